using Dockhand.Tests.Bot.Support;
using Microsoft.Data.Sqlite;

namespace Dockhand.Tests.Bot;

/// <summary>`dockhand run` uploads the command definitions at start-up only when they changed.</summary>
public sealed class CommandRegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Startup_SecondStartWithSameDefinitions_UploadsNothing()
    {
        var directory = Directory.CreateTempSubdirectory("dockhand-registration-").FullName;
        try
        {
            var settings = new Dictionary<string, string?> { ["DATABASE_PATH"] = Path.Combine(directory, "containers.db") };
            await using (var first = await BotHost.StartAsync(extra: settings, cancellationToken: Ct))
            {
                await first.Gateway!.WaitUntilAsync(_ => first.Rest.CommandOverwriteCount == 1, BotHost.Timeout, Ct);
                Assert.Equal(8, first.Rest.GetCommands(BotHost.GuildId)!.Count);
                first.AssertSentBodiesMatchOpenApi();
            }

            await using var second = await BotHost.StartAsync(extra: settings, cancellationToken: Ct);
            // The registration runs in the background right after start: give it time to (not) upload.
            await second.Gateway!.WaitUntilAsync(_ => second.LogLines.Any(e => e.Contains("[3141]", StringComparison.Ordinal)), BotHost.Timeout, Ct);

            Assert.Equal(0, second.Rest.CommandOverwriteCount);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
