using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class ReconcilerTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string> ManagedLabels(OwnerId owner, string name) => new()
    {
        ["dockhand.managed"] = "true",
        ["dockhand.owner"] = owner.ToString(),
        ["dockhand.name"] = name,
    };

    [Fact]
    public async Task ReconcileAsync_LabelledContainerWithoutRecordUnderRemovePolicy_RemovesIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("orphan");
        await harness.RunForeignAsync(name, ManagedLabels(owner, name));

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(1, report.RemovedOrphans);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Outcome == "orphan-removed");
    }

    [Fact]
    public async Task ReconcileAsync_LabelledContainerWithoutRecordUnderAdoptPolicy_RecordsIt()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Adopt });
        var owner = Harness.NewOwner();
        var name = Harness.NewName("adopt");
        var id = await harness.RunForeignAsync(name, ManagedLabels(owner, name));

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(1, report.AdoptedOrphans);
        var record = await harness.Service.FindAsync(owner, Ct);
        Assert.NotNull(record);
        Assert.Equal(id, record.ContainerId);
        Assert.Equal(name, record.Name);
        Assert.Equal(LiveState.Running, Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status.State);
    }

    [Fact]
    public async Task ReconcileAsync_AdoptPolicyButOwnerAlreadyHasOne_RemovesTheOrphan()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { OrphanPolicy = OrphanPolicy.Adopt });
        var owner = Harness.NewOwner();
        var kept = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct)).Status.Record;
        var name = Harness.NewName("second");
        await harness.RunForeignAsync(name, ManagedLabels(owner, name));

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(1, report.RemovedOrphans);
        Assert.Equal(kept.ContainerId, Assert.Single(await harness.ScopedContainersAsync()).ID);
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
        var labels = ManagedLabels(owner, name);
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
        var labels = ManagedLabels(owner, name);
        labels["dockhand.op"] = operation;
        await harness.RunForeignAsync(name, labels);

        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(new ReconcileReport(0, 0, 0, 0, 0), report);
        Assert.Single(await harness.ScopedContainersAsync());
        Assert.Equal(1, await harness.RowCountAsync());
    }

    [Fact]
    public async Task RunAsync_ContainerAppearsWithoutRecord_EventStreamRemovesIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = harness.Reconciler.RunAsync(stop.Token);
        await Task.Delay(500, Ct);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("late");

        await harness.RunForeignAsync(name, ManagedLabels(owner, name));

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while ((await harness.ScopedContainersAsync()).Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(200, Ct);
        await stop.CancelAsync();
        await running;
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task RunAsync_RecordedContainerRemovedBehindOurBack_AuditsMissing()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var record = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct)).Status.Record;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = harness.Reconciler.RunAsync(stop.Token);
        await Task.Delay(500, Ct);

        await harness.Docker.Containers.RemoveContainerAsync(record.ContainerId, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true }, Ct);

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct)).Any(a => a.Outcome == "missing") && DateTime.UtcNow < deadline)
            await Task.Delay(200, Ct);
        await stop.CancelAsync();
        await running;
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Outcome == "missing");
        Assert.Equal(LiveState.Missing, Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status.State);
    }
}
