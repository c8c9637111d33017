using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Containers.Tests;

/// <summary>
/// The reconciler on the real engine. Every container here carries the harness's scope labels, so each test sees only
/// its own; "another instance" is simulated with a different dockhand.instance value or a second database in the same scope.
/// </summary>
public sealed class ReconcilerTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReconcileAsync_OwnUnrecordedContainerUnderRemovePolicy_RemovesIt()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Remove });
        var owner = Harness.NewOwner();
        var name = Harness.NewName("orphan");
        await harness.RunForeignAsync(name, harness.OwnLabels(owner, name));

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(1, report.RemovedOrphans);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Outcome == "orphan-removed");
    }

    [Fact]
    public async Task ReconcileAsync_OwnUnrecordedContainerByDefault_AdoptsIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("adopt");
        var id = await harness.RunForeignAsync(name, harness.OwnLabels(owner, name));

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(OrphanPolicy.Adopt, new ContainerOptions().OrphanPolicy);
        Assert.Equal(1, report.AdoptedOrphans);
        var record = await harness.Service.FindAsync(owner, Ct);
        Assert.NotNull(record);
        Assert.Equal(id, record.ContainerId);
        Assert.Equal(name, record.Name);
        Assert.Equal(LiveState.Running, Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status.State);
    }

    [Fact]
    public async Task ReconcileAsync_OwnUnrecordedContainerWhoseOwnerHasOne_StopsAndKeepsIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var kept = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct)).Status.Record;
        var name = Harness.NewName("second");
        var second = await harness.RunForeignAsync(name, harness.OwnLabels(owner, name));

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal((0, 0, 1), (report.RemovedOrphans, report.AdoptedOrphans, report.StoppedOrphans));
        var containers = await harness.ScopedContainersAsync();
        Assert.Equal(2, containers.Count);
        Assert.Equal("exited", Assert.Single(containers, c => c.ID == second).State);
        Assert.Equal("running", Assert.Single(containers, c => c.ID == kept.ContainerId).State);
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Outcome == "orphan-stopped");
    }

    [Fact]
    public async Task ReconcileAsync_AnotherInstancesContainerUnderRemovePolicy_NeverTouchedAndCountedForeign()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Remove });
        var owner = Harness.NewOwner();
        var name = Harness.NewName("theirs");
        var labels = harness.OwnLabels(owner, name);
        labels["dockhand.instance"] = "0123456789abcdef";
        await harness.RunForeignAsync(name, labels);

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal((0, 0, 0, 1), (report.RemovedOrphans, report.AdoptedOrphans, report.StoppedOrphans, report.ForeignContainers));
        Assert.Equal("running", Assert.Single(await harness.ScopedContainersAsync()).State);
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task ReconcileAsync_UnrecordedContainerWithoutInstanceLabel_IsForeignEvenUnderRemovePolicy()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Remove });
        var owner = Harness.NewOwner();
        var name = Harness.NewName("legacy");
        var labels = harness.OwnLabels(owner, name);
        labels.Remove("dockhand.instance");
        await harness.RunForeignAsync(name, labels);

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal((0, 1), (report.RemovedOrphans, report.ForeignContainers));
        Assert.Equal("running", Assert.Single(await harness.ScopedContainersAsync()).State);
    }

    [Fact]
    public async Task ReconcileAsync_RecordedContainerWithoutInstanceLabel_StaysThisInstancesOwn()
    {
        // What a database written by the previous version holds: a ready row whose container has no instance label.
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Remove });
        var owner = Harness.NewOwner();
        var name = Harness.NewName("upgrade");
        var labels = harness.OwnLabels(owner, name);
        labels.Remove("dockhand.instance");
        var id = await harness.RunForeignAsync(name, labels);
        Assert.True(await harness.Store.TryAdoptAsync(owner, name, id, EngineFixture.TestImage, DateTimeOffset.UtcNow, Ct));

        var report = await harness.Reconciler.ReconcileAsync(Ct);
        var destroyed = await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct);

        Assert.Equal((0, 0, 0), (report.RemovedOrphans, report.ForeignContainers, report.MissingContainers));
        Assert.Equal(id, Assert.IsType<DestroyResult.Destroyed>(destroyed).Record?.ContainerId);
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task ReconcileAsync_NewEmptyDatabaseBesideAnotherInstance_RemovesNothing()
    {
        await using var first = await Harness.CreateAsync(fixture);
        var owners = Enumerable.Range(0, 2).Select(_ => Harness.NewOwner()).ToList();
        foreach (var owner in owners)
            Assert.IsType<CreateResult.Created>(await first.Service.CreateAsync(first.Request(owner, Harness.NewName()), cancellationToken: Ct));
        // A second instance on a new database in the same label scope, with the most destructive policy.
        await using var second = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Remove }, scope: first.Scope);

        var report = await second.Reconciler.ReconcileAsync(Ct);

        Assert.NotEqual(first.InstanceId, second.InstanceId);
        Assert.Equal((0, 0, 2), (report.RemovedOrphans, report.AdoptedOrphans, report.ForeignContainers));
        Assert.Equal(2, (await first.ScopedContainersAsync()).Count(c => c.State == "running"));
        Assert.Equal(0, await second.RowCountAsync());
    }

    [Fact]
    public async Task ReconcileAsync_MoreThanThreeRemovals_RemovesNoneAndSaysWhy()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Remove });
        for (var i = 0; i < Reconciler.MassRemovalLimit + 1; i++)
        {
            var name = Harness.NewName("mass");
            await harness.RunForeignAsync(name, harness.OwnLabels(Harness.NewOwner(), name));
        }

        var held = await harness.Reconciler.ReconcileAsync(Ct);
        var survivors = (await harness.ScopedContainersAsync()).Count;
        var forced = await harness.Reconciler.ReconcileAllowingMassRemovalAsync(Ct);

        Assert.Equal((0, 4), (held.RemovedOrphans, held.HeldBackRemovals));
        Assert.Equal(4, survivors);
        Assert.Contains(await harness.Store.ReadAuditAsync(cancellationToken: Ct), a => a.Outcome == "mass-removal-held");
        Assert.Equal((4, 0), (forced.RemovedOrphans, forced.HeldBackRemovals));
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task ReconcileAsync_AfterRestoringAnOlderCopyOfTheDatabase_AdoptsTheNewerContainers()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var before = Harness.NewOwner();
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(before, Harness.NewName()), cancellationToken: Ct));
        var backup = Path.Combine(harness.Directory, "backup.db");
        await using (var connection = await harness.Store.Database.OpenAsync(Ct))
        await using (var vacuum = connection.CreateCommand())
        {
            vacuum.CommandText = $"VACUUM INTO '{backup}'";
            await vacuum.ExecuteNonQueryAsync(Ct);
        }
        var after = Harness.NewOwner();
        var newer = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(after, Harness.NewName()), cancellationToken: Ct)).Status.Record;
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(harness.Options.DatabasePath + suffix);
        File.Copy(backup, harness.Options.DatabasePath);
        await using var restored = await harness.ReopenAsync();

        var report = await restored.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(harness.InstanceId, restored.InstanceId);
        Assert.Equal((1, 0, 0), (report.AdoptedOrphans, report.RemovedOrphans, report.ForeignContainers));
        Assert.Equal(newer.ContainerId, (await restored.Service.FindAsync(after, Ct))?.ContainerId);
        Assert.NotNull(await restored.Service.FindAsync(before, Ct));
        Assert.Equal(2, (await harness.ScopedContainersAsync()).Count(c => c.State == "running"));
    }

    [Fact]
    public async Task ReconcileAsync_CreatingRowOfDeadProcess_RollsBackContainerAndRow()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("dead");
        const string operation = "0123456789abcdef0123456789abcdef";
        Assert.IsType<IntentOutcome.Inserted>(await harness.Store.TryInsertIntentAsync(owner, name, EngineFixture.TestImage, operation, Ct));
        await using (var connection = await harness.Store.Database.OpenAsync(Ct))
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "UPDATE containers SET operation_process = '999999999:1'";
            await command.ExecuteNonQueryAsync(Ct);
        }
        var labels = harness.OwnLabels(owner, name);
        labels["dockhand.op"] = operation;
        await harness.RunForeignAsync(name, labels);

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(1, report.RolledBackCreates);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task ReconcileAsync_CreatingRowOfLiveProcess_LeavesItAlone()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("live");
        const string operation = "fedcba9876543210fedcba9876543210";
        await harness.Store.TryInsertIntentAsync(owner, name, EngineFixture.TestImage, operation, Ct);
        var labels = harness.OwnLabels(owner, name);
        labels["dockhand.op"] = operation;
        await harness.RunForeignAsync(name, labels);

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(new ReconcileReport(0, 0, 0, 0, 0, 0, 0, 0), report);
        Assert.Single(await harness.ScopedContainersAsync());
        Assert.Equal(1, await harness.RowCountAsync());
    }

    [Fact]
    public async Task RunAsync_ContainerAppearsWithoutRecord_EventStreamAdoptsIt()
    {
        // A fake clock that never moves: the loop's retry passes (1, 2, 4 … s) never run, so only the event stream can act.
        await using var harness = await Harness.CreateAsync(fixture, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = harness.Reconciler.RunAsync(stop.Token);
        await harness.Reconciler.WatchingEvents.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("late");

        var id = await harness.RunForeignAsync(name, harness.OwnLabels(owner, name));

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await harness.Service.FindAsync(owner, Ct) is null && DateTime.UtcNow < deadline)
            await Task.Delay(50, Ct);
        await stop.CancelAsync();
        await running;
        Assert.Equal(id, (await harness.Service.FindAsync(owner, Ct))?.ContainerId);
    }

    [Fact]
    public async Task RunAsync_RecordedContainerRemovedBehindOurBack_AuditsMissing()
    {
        await using var harness = await Harness.CreateAsync(fixture, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var owner = Harness.NewOwner();
        var record = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct)).Status.Record;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = harness.Reconciler.RunAsync(stop.Token);
        await harness.Reconciler.WatchingEvents.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await harness.Docker.Containers.RemoveContainerAsync(record.ContainerId, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true }, Ct);

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct)).Any(a => a.Outcome == "missing") && DateTime.UtcNow < deadline)
            await Task.Delay(200, Ct);
        await stop.CancelAsync();
        await running;
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Outcome == "missing");
        Assert.Equal(LiveState.Missing, Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status.State);
    }

    [Fact]
    public async Task RunAsync_CreateThroughTheService_NoPassForItsOwnEventsButOneForAnUnrecordedContainer()
    {
        // A reconciler of its own (its own metrics, so the service's recounts are not its own), logging its passes.
        await using var harness = await Harness.CreateAsync(fixture, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var log = new PassLog();
        using var reconciler = new Reconciler(harness.Engine, harness.Store, harness.Service, harness.Options, TimeProvider.System, log,
            new ContainerMetrics(meters.GetRequiredService<IMeterFactory>()));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = reconciler.RunAsync(stop.Token);
        await reconciler.WatchingEvents.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var ours = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName()), cancellationToken: Ct)).Status.Record;
        // Then a container no record knows: its create event needs a pass (which adopts it). Events come in order, so
        // once it is adopted, the events of our create have been handled too.
        var owner = Harness.NewOwner();
        var name = Harness.NewName("late");
        var late = await harness.RunForeignAsync(name, harness.OwnLabels(owner, name));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await harness.Service.FindAsync(owner, Ct) is null && DateTime.UtcNow < deadline)
            await Task.Delay(50, Ct);
        await stop.CancelAsync();
        await running;

        Assert.Equal(late, (await harness.Service.FindAsync(owner, Ct))?.ContainerId);
        Assert.Contains(late, log.PassCauses);
        Assert.DoesNotContain(ours.ContainerId, log.PassCauses);
    }

    /// <summary>The containers whose events caused a pass (the reconciler's "Reconciled after" log line, event 2059).</summary>
    private sealed class PassLog : ILogger<Reconciler>
    {
        private readonly ConcurrentQueue<string> _causes = new();

        public IReadOnlyCollection<string> PassCauses => _causes;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 2059 && state is IReadOnlyList<KeyValuePair<string, object?>> fields
                && fields.FirstOrDefault(f => f.Key == "ContainerId").Value is string containerId)
                _causes.Enqueue(containerId);
        }
    }
}
