using Dockhand.Tests.Bot.Support;

namespace Dockhand.Tests.Bot;

/// <summary>The gateway only delivers interactions; replies go over REST, so a dropped gateway loses no reply.</summary>
[Collection(BotCollection.Name)]
public sealed class GatewayDropTests(BotFixture fixture)
{
    private BotHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_GatewayDroppedMidway_ReplyStillArrivesAndLaterInteractionIsReplayed()
    {
        var gateway = Host.Gateway!;
        var resumesBefore = gateway.ReceivedOp(6).Count;
        var first = BotHost.NewUser();
        var during = await Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(first), BotHost.StringOption("container_name", "drop-" + first)), Ct);
        await Host.WaitForCallbackAsync(during, Ct);

        await gateway.DropConnectionsAsync(Ct);
        var second = BotHost.NewUser();
        var whileDown = await Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(second), BotHost.StringOption("container_name", "drop-" + second)), Ct);

        Assert.StartsWith($"Created `drop-{first}`", BotHost.Content(await Host.WaitForEditAsync(during, Ct)), StringComparison.Ordinal);
        Assert.StartsWith($"Created `drop-{second}`", BotHost.Content(await Host.WaitForEditAsync(whileDown, Ct)), StringComparison.Ordinal);
        await gateway.WaitUntilAsync(g => g.ReceivedOp(6).Count > resumesBefore, BotHost.Timeout, Ct);
        Host.AssertSentBodiesMatchOpenApi(during, whileDown);
    }
}
