using System.Globalization;
using System.Text.Json.Nodes;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Tests.Bot;

/// <summary>POST /interactions with real Ed25519 signatures; DISCORD_PUBLIC_KEY only (no token, no gateway).</summary>
public sealed class HttpTransportTests : IAsyncLifetime
{
    private BotHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _host = await BotHost.StartAsync(withGateway: false, cancellationToken: Ct);

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Ping_Signed_AnswersPong()
    {
        var (status, body) = await _host.PostAsync(JsonNode.Parse(InteractionPayloads.Ping(_host.Rest.ApplicationId))!.AsObject(), Ct);

        Assert.Equal(200, status);
        Assert.Equal(1, JsonNode.Parse(body)!["type"]!.GetValue<int>());
    }

    [Fact]
    public async Task Create_BadSignature_401AndNothingHappens()
    {
        var user = BotHost.NewUser();
        var payload = _host.Slash(BotHost.Admin, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", "forged-" + user));
        using var other = new InteractionSigner();
        using var request = other.CreateRequest(new Uri(_host.BaseAddress, "/interactions"), payload.ToJsonString(), DateTimeOffset.UtcNow);

        using var response = await _host.Http.SendAsync(request, Ct);

        Assert.Equal(401, (int)response.StatusCode);
        // No sleep: the same /create, signed, sent after the forged one and finished. Had the forged one been handled,
        // it came first, so this one would find the container already there, and the forged token would show up in
        // the requests to Discord.
        var genuine = _host.Slash(BotHost.Admin, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", "forged-" + user));
        var (status, _) = await _host.PostAsync(genuine, Ct);
        Assert.Equal(200, status);
        var sent = BotHost.Describe(genuine);
        Assert.StartsWith($"Created `forged-{user}` for <@{user}>", BotHost.Content(await _host.WaitForEditAsync(sent, Ct)), StringComparison.Ordinal);
        Assert.Single(await _host.ContainersAsync(user.ToString(CultureInfo.InvariantCulture), Ct));
        Assert.NotEmpty(_host.Rest.Requests);
        Assert.All(_host.Rest.Requests, r => Assert.Contains(sent.Token, r.Path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_Signed_DeferInHttpBodyThenOriginalEdited()
    {
        var user = BotHost.NewUser();
        var payload = _host.Slash(BotHost.Admin, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", "http-" + user));

        var (status, body) = await _host.PostAsync(payload, Ct);

        Assert.Equal(200, status);
        Assert.Equal(5, JsonNode.Parse(body)!["type"]!.GetValue<int>());
        var sent = BotHost.Describe(payload);
        var edited = await _host.WaitForEditAsync(sent, Ct);
        Assert.StartsWith($"Created `http-{user}` for <@{user}>", BotHost.Content(edited), StringComparison.Ordinal);
        Assert.Single(await _host.ContainersAsync(user.ToString(CultureInfo.InvariantCulture), Ct));
        _host.AssertSentBodiesMatchOpenApi(sent);
    }

    [Fact]
    public async Task Status_FromStranger_EphemeralRefusalInHttpBody()
    {
        var (status, body) = await _host.PostAsync(_host.Slash(BotHost.NewUser(), "status"), Ct);

        Assert.Equal(200, status);
        var json = JsonNode.Parse(body)!;
        Assert.Equal(4, json["type"]!.GetValue<int>());
        Assert.Equal(64, json["data"]!["flags"]!.GetValue<int>());
        Assert.StartsWith("You don't have a container yet; ask <@", json["data"]!["content"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Autocomplete_Signed_ChoicesInHttpBody()
    {
        var (status, body) = await _host.PostAsync(_host.Autocomplete(BotHost.Admin, "create", "image", "dockhand-test"), Ct);

        Assert.Equal(200, status);
        var json = JsonNode.Parse(body)!;
        Assert.Equal(8, json["type"]!.GetValue<int>());
        Assert.Contains(json["data"]!["choices"]!.AsArray(), c => c!["value"]!.GetValue<string>() == BotHost.Image);
    }

    [Fact]
    public async Task Startup_WithoutToken_RegistersNoCommands()
    {
        // Without a bot token the host has no registration service at all, so no upload can come later.
        Assert.DoesNotContain(_host.App.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>(), s => s.GetType().Name == "CommandRegistrationService");
        Assert.Equal(0, _host.Rest.CommandOverwriteCount);
        Assert.Null(_host.Rest.GetCommands(BotHost.GuildId));
    }
}
