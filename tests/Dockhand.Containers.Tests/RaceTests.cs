using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class RaceTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreateAsync_FiftyConcurrentForOneOwner_ExactlyOneContainerAndFortyNineRefusals()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            Task.Run(() => harness.Service.CreateAsync(harness.Request(owner, Harness.NewName($"race{i}")), cancellationToken: Ct), Ct)));

        Assert.Single(results.OfType<CreateResult.Created>());
        var refusals = results.OfType<CreateResult.Refused>().ToList();
        Assert.Equal(49, refusals.Count);
        Assert.All(refusals, r => Assert.True(r.Reason is Refusals.AlreadyHasContainer or Refusals.Busy, r.Reason.Message));
        Assert.Single(await harness.ScopedContainersAsync());
        Assert.Equal(1, await harness.RowCountAsync());
    }

    [Fact]
    public async Task CreateAsync_TwoServicesOnOneFileRaceForOneOwner_ExactlyOneContainer()
    {
        // Two services on one database file stand in for two processes: the database, not the in-process lock, decides.
        await using var first = await Harness.CreateAsync(fixture);
        await using var second = await first.ReopenAsync();
        var owner = Harness.NewOwner();

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            Task.Run(() => (i % 2 == 0 ? first : second).Service.CreateAsync(first.Request(owner, Harness.NewName($"x{i}")), cancellationToken: Ct), Ct)));

        Assert.Single(results.OfType<CreateResult.Created>());
        Assert.Single(await first.ScopedContainersAsync());
        Assert.Equal(1, await first.RowCountAsync());
    }

    [Fact]
    public async Task CreateRacingDestroy_ManyRounds_NeverLeavesOrphanOrDanglingRecord()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();

        for (var round = 0; round < 4; round++)
        {
            var create = Task.Run(() => harness.Service.CreateAsync(harness.Request(owner, Harness.NewName($"r{round}")), cancellationToken: Ct), Ct);
            var destroy = Task.Run(() => harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct), Ct);
            await Task.WhenAll(create, destroy);

            // Whatever the order, records and containers agree.
            var containers = await harness.ScopedContainersAsync();
            var record = await harness.Service.FindAsync(owner, Ct);
            Assert.Equal(record is null ? 0 : 1, containers.Count);
            if (record is not null)
                Assert.Equal(record.ContainerId, containers[0].ID);

            Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct));
            Assert.Empty(await harness.ScopedContainersAsync());
            Assert.Equal(0, await harness.RowCountAsync());
        }
    }
}
