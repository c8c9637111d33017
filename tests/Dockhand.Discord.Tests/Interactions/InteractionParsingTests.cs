using System.Text.Json;
using System.Text.Json.Nodes;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.JsonModels;
using Dockhand.Discord.Rest;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Tests.Interactions;

public sealed class InteractionParsingTests
{
    private static Interaction? Parse(JsonNode node) => WireMapper.Parse(node.Deserialize(DiscordJsonContext.Default.JsonInteraction));

    [Fact]
    public void Parse_DirectMessage_InvokerFromUser()
    {
        var i = Parse(InteractionPayloads.SlashCommand(1, "t", 42, "list"))!;
        Assert.Equal(new Snowflake(42), i.UserId);
        Assert.Null(i.GuildId);
    }

    [Fact]
    public void Parse_Guild_InvokerFromMemberUser()
    {
        var i = Parse(InteractionPayloads.SlashCommand(1, "t", 42, "list", guildId: 9))!;
        Assert.Equal(new Snowflake(42), i.UserId);
        Assert.Equal(9UL, i.GuildId);
    }

    [Fact]
    public void Parse_Subcommand_ExposesItsNameAndOptions()
    {
        var i = Parse(InteractionPayloads.SlashCommand(1, "t", 42, "admin", [new TestOption("user", 6, "5")], subcommand: "purge"))!;
        Assert.Equal("admin", i.CommandName);
        Assert.Equal("purge", i.SubcommandName);
        Assert.Equal(5UL, i.GetUserId("user"));
        Assert.Null(i.GetUser("user")); // not resolved in this payload
    }

    [Theory]
    [InlineData("""{"id":"1","application_id":"1","type":2,"token":"","user":{"id":"1","username":"a"}}""")]
    [InlineData("""{"id":"1","application_id":"1","type":2,"token":"t"}""")]
    [InlineData("""{"id":"1","application_id":"1","type":99,"token":"t","user":{"id":"1","username":"a"}}""")]
    public void Parse_MissingOrMalformedFields_ReturnsNull(string json) =>
        Assert.Null(WireMapper.Parse(JsonSerializer.Deserialize(json, DiscordJsonContext.Default.JsonInteraction)));

    [Theory]
    [InlineData("""{"id":"x","application_id":"1","type":2,"token":"t"}""")]
    [InlineData("""{"id":"0","application_id":"1","type":2,"token":"t"}""")]
    [InlineData("""{"id":"1","application_id":"-1","type":2,"token":"t"}""")]
    [InlineData("""{"id":"1","application_id":"123456789012345678901","type":2,"token":"t"}""")]
    public void Deserialize_MalformedSnowflake_ThrowsJsonException(string json) =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, DiscordJsonContext.Default.JsonInteraction));

    [Theory]
    [InlineData("1", true)]
    [InlineData("18446744073709551615", true)]
    [InlineData("18446744073709551616", false)]
    [InlineData("0", false)]
    [InlineData("+1", false)]
    [InlineData(" 1", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void SnowflakeTryParse_Text_AcceptsOnlyNonZeroDigits(string? text, bool valid)
    {
        Assert.Equal(valid, Snowflake.TryParse(text, out var id));
        if (valid)
            Assert.Equal(text, id.ToString());
    }

    [Fact]
    public async Task GatewayBridge_InteractionCreate_RemembersAppIdAndCallsBackOverRestOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var services = new ServiceCollection();
        services.AddLogging();
        var seen = new TaskCompletionSource<Interaction>(TaskCreationOptions.RunContinuationsAsynchronously);
        services.AddSingleton<IInteractionHandler>(new DelegateHandler(async (i, r, c) =>
        {
            await r.RespondAsync(InteractionResponse.Message("pong"), c);
            seen.SetResult(i);
        }));
        await using var provider = services.BuildServiceProvider();
        var appIds = new DiscordApplicationIdSource(f.Client, Options.Create(new DiscordOptions()));
        var dispatcher = new InteractionDispatcher(provider.GetRequiredService<IServiceScopeFactory>(), appIds, NullLogger<InteractionDispatcher>.Instance);
        var replays = new InteractionReplayGuard(TimeProvider.System);
        IGatewayDispatchHandler bridge = new GatewayInteractionBridge(dispatcher, replays, f.Client, NullLogger<GatewayInteractionBridge>.Instance);

        using var ready = JsonDocument.Parse("""{"v":10,"session_id":"s","application":{"id":"1234","flags":0},"user":{"id":"9","username":"bot"}}""");
        await bridge.HandleDispatchAsync("READY", ready.RootElement, ct);
        var payload = InteractionPayloads.SlashCommand(f.Server.ApplicationId, "gw-tok", 3, "status");
        using var create = JsonDocument.Parse(payload.ToJsonString());
        await bridge.HandleDispatchAsync("INTERACTION_CREATE", create.RootElement, ct);
        using var other = JsonDocument.Parse("""{"x":1}""");
        await bridge.HandleDispatchAsync("RESUMED", other.RootElement, ct);

        var interaction = await seen.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        // The same INTERACTION_CREATE again (e.g. replayed after a reconnect) is not handled twice: the handler would
        // throw on a second SetResult, and the server would see a second callback (40060).
        await bridge.HandleDispatchAsync("INTERACTION_CREATE", create.RootElement, ct);
        Assert.Equal(1, replays.Count);
        // READY is read once, by the gateway client (GatewayConnectionTests); the id known here came with the interaction.
        Assert.Equal(new Snowflake(f.Server.ApplicationId), appIds.Known);
        Assert.Equal("status", interaction.CommandName);
        var callback = f.Server.GetCallback(interaction.Id)!;
        Assert.Equal(4, callback["type"]!.GetValue<int>());
        Assert.Equal("pong", f.Server.GetOriginal("gw-tok")!["content"]!.GetValue<string>());
        Assert.Single(f.Server.RequestsTo(Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes.InteractionCallback));
    }
}
