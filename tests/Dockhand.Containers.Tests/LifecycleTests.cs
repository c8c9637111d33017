using Docker.DotNet.Models;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class LifecycleTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ContainerRecord> CreateAsync(Harness harness, OwnerId owner)
        => Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct)).Status.Record;

    [Fact]
    public async Task DestroyAsync_Twice_BothSucceedAndEverythingIsGone()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);

        var first = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct));
        var second = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct));

        Assert.Equal(record.ContainerId, first.Record?.ContainerId);
        Assert.Null(second.Record);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Null(await harness.Service.FindAsync(owner, Ct));
        var audit = await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct);
        Assert.Contains(audit, a => a.Action == "destroy" && a.Outcome == "destroyed");
    }

    [Fact]
    public async Task DestroyAsync_ContainerAlreadyRemovedFromEngine_SucceedsAndDropsRecord()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);
        await harness.Docker.Containers.RemoveContainerAsync(record.ContainerId, new ContainerRemoveParameters { Force = true }, Ct);

        var result = await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct);

        Assert.Equal(record.ContainerId, Assert.IsType<DestroyResult.Destroyed>(result).Record?.ContainerId);
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task StatusAndList_ContainerRemovedBehindOurBack_ShowMissing()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);
        await harness.Docker.Containers.RemoveContainerAsync(record.ContainerId, new ContainerRemoveParameters { Force = true }, Ct);

        var status = Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct));
        var page = await harness.Service.ListAsync(0, 10, Ct);
        var report = await harness.Reconciler.ReconcileAsync(Ct);

        Assert.Equal(LiveState.Missing, status.Status.State);
        Assert.Equal(LiveState.Missing, Assert.Single(page.Items).State);
        Assert.Equal(1, report.MissingContainers);
        Assert.NotNull(await harness.Service.FindAsync(owner, Ct));
        Assert.IsType<Refusals.ContainerMissing>(Assert.IsType<StatusResult.Refused>(await harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct)).Reason);
    }

    [Fact]
    public async Task StatusAsync_RunningContainer_GivesStartTimeAndUsage()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        await CreateAsync(harness, owner);

        var status = Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status;

        Assert.Equal(LiveState.Running, status.State);
        Assert.NotNull(status.StartedAt);
        Assert.InRange(status.StartedAt.Value, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.NotNull(status.MemoryUsageBytes);
        Assert.Equal(64UL * 1024 * 1024, status.MemoryLimitBytes);
    }

    [Fact]
    public async Task StatusAsync_NoContainer_RefusedWithNoContainer()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var result = await harness.Service.StatusAsync(Harness.NewOwner(), Ct);

        Assert.IsType<Refusals.NoContainer>(Assert.IsType<StatusResult.Refused>(result).Reason);
    }

    [Fact]
    public async Task ApplyAsync_StopStartRestart_ChangesStateWithoutDestroying()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);

        var stopped = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Stop, Actor.Cli("test"), Ct));
        Assert.Equal(LiveState.Exited, stopped.Status.State);
        var started = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct));
        Assert.Equal(LiveState.Running, started.Status.State);
        var restarted = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Restart, Actor.Cli("test"), Ct));

        Assert.Equal(LiveState.Running, restarted.Status.State);
        Assert.Equal(record.ContainerId, restarted.Status.Record.ContainerId);
        Assert.True(restarted.Status.StartedAt > started.Status.StartedAt);
        Assert.Single(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task ListAsync_SeveralOwners_PagesInCreationOrder()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var records = new List<ContainerRecord>();
        for (var i = 0; i < 3; i++)
            records.Add(await CreateAsync(harness, Harness.NewOwner()));

        var first = await harness.Service.ListAsync(0, 2, Ct);
        var second = await harness.Service.ListAsync(1, 2, Ct);

        Assert.Equal(3, first.Total);
        Assert.Equal(2, first.PageCount);
        Assert.Equal(records.Select(r => r.ContainerId), first.Items.Concat(second.Items).Select(s => s.Record.ContainerId));
        Assert.All(first.Items.Concat(second.Items), s => Assert.Equal(LiveState.Running, s.State));
    }

    [Fact]
    public async Task ListAsync_RunningStoppedAndRemoved_EachWithItsStateAndOnlyRunningWithStartTime()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var (running, stopped, removed) = (Harness.NewOwner(), Harness.NewOwner(), Harness.NewOwner());
        var records = new List<ContainerRecord> { await CreateAsync(harness, running), await CreateAsync(harness, stopped), await CreateAsync(harness, removed) };
        Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(stopped, LifecycleAction.Stop, Actor.Cli("test"), Ct));
        await harness.Docker.Containers.RemoveContainerAsync(records[2].ContainerId, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true }, Ct);

        var page = await harness.Service.ListAsync(0, 10, Ct);

        Assert.Equal(records.Select(r => r.ContainerId), page.Items.Select(s => s.Record.ContainerId));
        Assert.Equal([LiveState.Running, LiveState.Exited, LiveState.Missing], page.Items.Select(s => s.State));
        Assert.NotNull(page.Items[0].StartedAt);
        Assert.All(page.Items.Skip(1), s => Assert.Null(s.StartedAt));
    }

    [Fact]
    public async Task ListByIdsAsync_RealUnknownAndPendingIds_ReturnsOnlyTheContainersTheEngineHas()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var (first, second) = (Harness.NewOwner(), Harness.NewOwner());
        var records = new[] { await CreateAsync(harness, first), await CreateAsync(harness, second) };
        Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(second, LifecycleAction.Stop, Actor.Cli("test"), Ct));
        var unknown = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        var found = await harness.Engine.ListByIdsAsync([records[0].ContainerId, unknown, "pending:" + Guid.NewGuid().ToString("N"), records[1].ContainerId], Ct);

        Assert.Equal(records.Select(r => r.ContainerId).Order(), found.Select(c => c.Id).Order());
        Assert.Equal(LiveState.Running, found.Single(c => c.Id == records[0].ContainerId).State);
        Assert.Equal(LiveState.Exited, found.Single(c => c.Id == records[1].ContainerId).State);
        Assert.All(found, c => Assert.Equal(harness.InstanceId, c.Labels[ContainerLabels.Instance]));
        Assert.Empty(await harness.Engine.ListByIdsAsync([unknown], Ct));
    }
}
