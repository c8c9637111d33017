using System.Diagnostics;
using Dockhand.Containers;
using Dockhand.Containers.Engine;
using Dockhand.Resilience.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Resilience.Tests;

/// <summary>
/// Kill the Docker engine in the middle of a create (a PRIVATE dockerd: the shared one is never stopped), then bring it
/// back. Expect clear refusals while it is down, recovery within 5 s of it answering again, and no record lost.
/// </summary>
[Trait("Category", "Resilience")]
public sealed class EngineRestartTests
{
    private static readonly TimeSpan RecoveryTarget = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Create_EngineKilledMidOperationThenRestarted_ClearErrorsRecoveryWithin5sNoDataLost()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var engine = await PrivateEngine.StartAsync(ct);
        var directory = Directory.CreateTempSubdirectory("dockhand-resilience-restart-").FullName;
        try
        {
            await RunAsync(engine, directory, ct);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task RunAsync(PrivateEngine engine, string directory, CancellationToken ct)
    {
        var database = Path.Combine(directory, "containers.db");
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDockhandContainers(new ContainerOptions
        {
            DatabasePath = database,
            DockerHost = new Uri(engine.Endpoint),
            DefaultImage = EngineFixture.TestImage,
            MemoryLimitBytes = 64L * 1024 * 1024,
            ExtraLabels = new Dictionary<string, string> { ["dockhand.test"] = "resilience-restart" },
        });
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<ContainerStore>().MigrateAsync(ct);
        var service = provider.GetRequiredService<ContainerService>();
        var kept = Owner();
        var interrupted = Owner();
        var later = Owner();

        // A container that must survive the crash.
        var first = Assert.IsType<CreateResult.Created>(await service.CreateAsync(Request(kept, "kept"), cancellationToken: ct));
        var auditBefore = (await provider.GetRequiredService<ContainerStore>().ReadAuditAsync(cancellationToken: ct)).Count;

        // Kill the engine as soon as the next create has written its intent row (it is then talking to the engine).
        var inFlight = service.CreateAsync(Request(interrupted, "interrupted"), cancellationToken: ct);
        var sawIntent = false;
        var watch = Stopwatch.StartNew();
        while (!inFlight.IsCompleted && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            if ((await Records.ReadAsync(database, ct)).Any(r => r.Owner == interrupted.ToString()))
            {
                sawIntent = true;
                break;
            }
            await Task.Delay(1, ct);
        }
        await engine.KillDaemonAsync();
        var midOperation = await inFlight.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.True(sawIntent, "the create finished before the engine could be killed in the middle of it");
        if (midOperation is CreateResult.Refused refusedMid)
            Assert.IsType<Refusals.EngineUnavailable>(refusedMid.Reason);

        // While the engine is down: clear refusals, promptly.
        watch.Restart();
        var downStatus = Assert.IsType<StatusResult.Refused>(await service.StatusAsync(kept, ct));
        var downCreate = Assert.IsType<CreateResult.Refused>(await service.CreateAsync(Request(later, "later"), cancellationToken: ct));
        var downList = await Assert.ThrowsAsync<EngineUnavailableException>(() => service.ListAsync(0, 10, ct));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"calls against a dead engine took {watch.Elapsed.TotalSeconds:0.0} s");
        foreach (var message in new[] { downStatus.Reason.Message, downCreate.Reason.Message })
            Assert.StartsWith("The Docker engine cannot be reached", message, StringComparison.Ordinal);
        Assert.Contains(engine.Socket, downList.Message, StringComparison.Ordinal);

        // Bring it back: every operation works again within 5 s of the engine answering.
        // The three are tried at once, as three users would, so each time is its own and not the sum of the ones before
        // it (a create takes a few seconds on a loaded machine).
        var back = await engine.StartDaemonAsync(ct);
        var statusTask = UntilAsync(async () => await service.StatusAsync(kept, ct) is StatusResult.Found, ct);
        var createTask = UntilAsync(async () => await service.CreateAsync(Request(later, "later"), cancellationToken: ct) is CreateResult.Created, ct);
        var interruptedTask = midOperation is CreateResult.Created
            ? Task.FromResult(back)
            : UntilAsync(async () => await service.CreateAsync(Request(interrupted, "interrupted"), cancellationToken: ct) is CreateResult.Created, ct);
        var (statusBack, createBack, interruptedBack) = (await statusTask, await createTask, await interruptedTask);
        TestContext.Current.TestOutputHelper?.WriteLine($"recovery after the engine answered: status {(statusBack - back).TotalSeconds:0.00} s, "
            + $"new create {(createBack - back).TotalSeconds:0.00} s, interrupted owner {(interruptedBack - back).TotalSeconds:0.00} s");
        Assert.True(statusBack - back <= RecoveryTarget, $"status recovered {(statusBack - back).TotalSeconds:0.00} s after the engine came back");
        Assert.True(createBack - back <= RecoveryTarget, $"create recovered {(createBack - back).TotalSeconds:0.00} s after the engine came back");
        Assert.True(interruptedBack - back <= RecoveryTarget, $"the owner whose create was interrupted could create again only {(interruptedBack - back).TotalSeconds:0.00} s after the engine came back");

        // No data lost: the first record and its container are intact, the audit log only grew, the file is sound.
        var page = await service.ListAsync(0, 10, ct);
        var kept2 = Assert.Single(page.Items, s => s.Record.Owner == kept);
        Assert.Equal(first.Status.Record.ContainerId, kept2.Record.ContainerId);
        Assert.NotEqual(LiveState.Missing, kept2.State);
        Assert.True((await provider.GetRequiredService<ContainerStore>().ReadAuditAsync(cancellationToken: ct)).Count > auditBefore);
        await provider.GetRequiredService<Reconciler>().ReconcileAsync(ct);
        var rows = await Records.ReadAsync(database, ct);
        Assert.All(rows, r => Assert.Equal("ready", r.State));
        Assert.Equal(3, rows.Count);
        Assert.Equal("ok", await Records.IntegrityCheckAsync(database, ct));
    }

    private static OwnerId Owner() => OwnerId.TryParse(SharedEngineFixture.NextUser(), out var owner) ? owner : throw new InvalidOperationException("not a snowflake");

    private static CreateRequest Request(OwnerId owner, string name) => new(owner, $"{name}-{owner}", null, Actor.Cli("resilience"));

    /// <summary>Retries <paramref name="attempt"/> every 100 ms (at most 30 s) and returns when it first succeeded.</summary>
    private static async Task<DateTimeOffset> UntilAsync(Func<Task<bool>> attempt, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (await attempt())
                return DateTimeOffset.UtcNow;
            await Task.Delay(100, ct);
        }
        return DateTimeOffset.MaxValue;
    }
}
