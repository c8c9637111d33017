using Dockhand.Tests.Bot.Support;

namespace Dockhand.Tests.Bot;

/// <summary>What `dockhand run` tells the operator at start-up.</summary>
public sealed class StartupLogTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_EmptyAuthorizedUsers_LogsNoAuthorizedUsersOnce()
    {
        await using var host = await BotHost.StartAsync(withGateway: false, extra: new Dictionary<string, string?> { ["AUTHORIZED_USERS"] = "" }, cancellationToken: Ct);

        Assert.Single(host.LogLines, e => e.Contains("[4006] AUTHORIZED_USERS is empty", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_WithAuthorizedUsers_DoesNotLogNoAuthorizedUsers()
    {
        await using var host = await BotHost.StartAsync(withGateway: false, cancellationToken: Ct);

        Assert.DoesNotContain(host.LogLines, e => e.Contains("[4006]", StringComparison.Ordinal));
    }
}
