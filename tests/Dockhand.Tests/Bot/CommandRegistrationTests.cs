using System.Text.Json.Nodes;
using Dockhand.Tests.Bot.Support;

namespace Dockhand.Tests.Bot;

/// <summary>`dockhand run` asks Discord for its commands at start-up and uploads them only when Discord's differ.</summary>
public sealed class CommandRegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Startup_DiscordAlreadyHoldsTheCommands_UploadsNothing()
    {
        JsonArray held;
        await using (var first = await BotHost.StartAsync(cancellationToken: Ct))
        {
            await first.Gateway!.WaitUntilAsync(_ => first.Rest.CommandOverwriteCount == 1, BotHost.Timeout, Ct);
            held = first.Rest.GetCommands(BotHost.GuildId)!;
            Assert.Equal(8, held.Count);
            first.AssertSentBodiesMatchOpenApi();
        }

        // Another start, with a database of its own: nothing local says what was uploaded, Discord does.
        await using var second = await BotHost.StartAsync(prepareDiscord: d => d.SetCommands(BotHost.GuildId, held), cancellationToken: Ct);
        await second.Gateway!.WaitUntilAsync(_ => second.LogLines.Any(e => e.Contains("[3141]", StringComparison.Ordinal)), BotHost.Timeout, Ct);

        Assert.Equal(0, second.Rest.CommandOverwriteCount);
        Assert.Single(second.Rest.RequestsTo(Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes.GetGuildCommands));
    }

    [Fact]
    public async Task Startup_DiscordHoldsAnOlderSet_UploadsOnce()
    {
        JsonArray held;
        await using (var first = await BotHost.StartAsync(cancellationToken: Ct))
        {
            await first.Gateway!.WaitUntilAsync(_ => first.Rest.CommandOverwriteCount == 1, BotHost.Timeout, Ct);
            held = first.Rest.GetCommands(BotHost.GuildId)!;
        }
        held.RemoveAt(held.Count - 1); // the release before the newest command
        held[0]!["description"] = "An older description.";

        await using var second = await BotHost.StartAsync(prepareDiscord: d => d.SetCommands(BotHost.GuildId, held), cancellationToken: Ct);
        await second.Gateway!.WaitUntilAsync(_ => second.LogLines.Any(e => e.Contains("[3140]", StringComparison.Ordinal)), BotHost.Timeout, Ct);

        Assert.Equal(1, second.Rest.CommandOverwriteCount);
        Assert.Equal(8, second.Rest.GetCommands(BotHost.GuildId)!.Count);
        Assert.NotEqual("An older description.", second.Rest.GetCommands(BotHost.GuildId)![0]!["description"]!.GetValue<string>());
    }
}
