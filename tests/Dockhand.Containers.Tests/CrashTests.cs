using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

/// <summary>Really SIGKILLs a child dockhand process at each step of create and destroy, then restarts and reconciles.</summary>
public sealed class CrashTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Environment(Harness harness, string? killAt)
    {
        var settings = harness.Settings();
        settings[FaultInjection.EnvironmentVariable] = killAt;
        return settings;
    }

    [Theory]
    [InlineData(FaultInjection.Steps.CreateAfterIntent)]
    [InlineData(FaultInjection.Steps.CreateAfterEngineCreate)]
    [InlineData(FaultInjection.Steps.CreateAfterRecordId)]
    [InlineData(FaultInjection.Steps.CreateAfterStart)]
    public async Task Create_KilledAtStep_RestartLeavesNoOrphanAndNoDanglingRecord(string step)
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();

        var killed = await DockhandChild.RunAsync(harness.Directory, Environment(harness, step), ["create", "--user", owner.ToString(), "--name", Harness.NewName("kill")], cancellationToken: Ct);

        Assert.Equal(137, killed.ExitCode);
        Assert.Equal(1, await harness.RowCountAsync());
        await using var restarted = await harness.ReopenAsync();
        var report = await restarted.Reconciler.ReconcileAsync(Ct);
        Assert.Equal(1, report.RolledBackCreates);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
        // And the owner can create again.
        Assert.IsType<CreateResult.Created>(await restarted.Service.CreateAsync(restarted.Request(owner, Harness.NewName()), cancellationToken: Ct));
    }

    [Theory]
    [InlineData(FaultInjection.Steps.DestroyAfterMark)]
    [InlineData(FaultInjection.Steps.DestroyAfterEngineRemove)]
    public async Task Destroy_KilledAtStep_RestartLeavesNoOrphanAndNoDanglingRecord(string step)
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct));

        var killed = await DockhandChild.RunAsync(harness.Directory, Environment(harness, step), ["destroy", "--user", owner.ToString()], cancellationToken: Ct);

        Assert.Equal(137, killed.ExitCode);
        await using var restarted = await harness.ReopenAsync();
        var report = await restarted.Reconciler.ReconcileAsync(Ct);
        Assert.Equal(1, report.FinishedDestroys);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task Cli_AfterKilledCreate_NextCommandReconcilesFirst()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var killed = await DockhandChild.RunAsync(harness.Directory, Environment(harness, FaultInjection.Steps.CreateAfterStart), ["create", "--user", owner.ToString(), "--name", Harness.NewName("k")], cancellationToken: Ct);
        Assert.Equal(137, killed.ExitCode);

        var again = await DockhandChild.RunAsync(harness.Directory, Environment(harness, null), ["create", "--user", owner.ToString(), "--name", Harness.NewName("k2"), "--json"], cancellationToken: Ct);

        Assert.Equal(0, again.ExitCode);
        Assert.Single(await harness.ScopedContainersAsync());
        Assert.Equal(1, await harness.RowCountAsync());
    }
}
