using Dockhand.Containers.Storage;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests.Storage;

/// <summary>
/// CrashTests' create case on PostgreSQL: a real child dockhand process SIGKILLs itself after writing its intent row,
/// holding its advisory-lock lease; this process must see it dead (the server ends the killed session) and roll back.
/// </summary>
public sealed class PostgresCrashTests(EngineFixture fixture, PostgresServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_KilledAfterIntentOnPostgres_LeaseSeenDeadAndRestartRollsBack()
    {
        var url = await server.CreateDatabaseAsync(Ct);
        try
        {
            await using var harness = await Harness.CreateAsync(fixture, o => o with { DatabaseUrl = url });
            var owner = Harness.NewOwner();
            var settings = harness.Settings();
            settings[FaultInjection.EnvironmentVariable] = FaultInjection.Steps.CreateAfterIntent;

            var killed = await DockhandChild.RunAsync(harness.Directory, settings, ["create", "--user", owner.ToString(), "--name", Harness.NewName("kill")], cancellationToken: Ct);
            var row = await harness.Store.FindAsync(owner, Ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            while (harness.Store.IsProcessAlive(row!.OperationProcess))
                await Task.Delay(20, timeout.Token);
            await using var restarted = await harness.ReopenAsync(o => o with { DatabaseUrl = url });
            var report = await restarted.Reconciler.ReconcileAsync(Ct);

            Assert.Equal(137, killed.ExitCode);
            Assert.Equal(StoreKind.Postgres, harness.Store.Database.Kind);
            Assert.StartsWith("pglock:", row.OperationProcess, StringComparison.Ordinal);
            Assert.Equal(1, report.RolledBackCreates);
            Assert.Equal(0, await restarted.RowCountAsync());
            Assert.IsType<CreateResult.Created>(await restarted.Service.CreateAsync(restarted.Request(owner, Harness.NewName()), cancellationToken: Ct));
        }
        finally
        {
            await server.DropDatabaseAsync(url);
        }
    }
}
