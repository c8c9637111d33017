using Dockhand.Containers;
using Dockhand.Resilience.Tests.Support;

namespace Dockhand.Resilience.Tests;

/// <summary>
/// SIGKILL a real <c>dockhand</c> process at each step of create and destroy (DOCKHAND_FAULT_KILL_AT), start it again,
/// and expect the engine and the records to agree: 0 orphans (labelled containers no row knows), 0 dangling records
/// (rows in a half state, or whose container is gone), and the owner able to carry on.
/// </summary>
[Trait("Category", "Resilience")]
public sealed class ProcessKillTests(SharedEngineFixture fixture) : IClassFixture<SharedEngineFixture>
{
    public static TheoryData<string> CreateSteps => new(FaultInjection.Steps.All.Where(s => s.StartsWith("create:", StringComparison.Ordinal)));

    public static TheoryData<string> DestroySteps => new(FaultInjection.Steps.All.Where(s => s.StartsWith("destroy:", StringComparison.Ordinal)));

    [Theory]
    [MemberData(nameof(CreateSteps))]
    public async Task Create_KilledAtStep_RestartLeavesNoOrphansNoDanglingRecords(string step)
    {
        var ct = TestContext.Current.CancellationToken;
        var (dockhand, database, scope) = fixture.NewScope("kill-" + step.Replace(':', '-'));
        var user = SharedEngineFixture.NextUser();

        var killed = await dockhand.RunAsync(["create", "--user", user, "--name", $"k{user}"], Kill(step), cancellationToken: ct);
        Assert.True(killed.WasKilled, $"the kill point {step} was not reached: {killed}");

        var restarted = await dockhand.RunAsync(["reconcile", "--json"], cancellationToken: ct);
        Assert.True(restarted.ExitCode == 0, $"reconcile after the kill failed: {restarted}");

        await AssertConsistentAsync(database, scope, ct);
        Assert.Empty(await Records.ReadAsync(database, ct)); // the half-made create was rolled back

        // The owner is not stuck: the same create now succeeds, and a destroy cleans up.
        var again = await dockhand.RunAsync(["create", "--user", user, "--name", $"k{user}"], cancellationToken: ct);
        Assert.True(again.ExitCode == 0, $"create after recovery failed: {again}");
        await AssertConsistentAsync(database, scope, ct);
        var destroyed = await dockhand.RunAsync(["destroy", "--user", user], cancellationToken: ct);
        Assert.True(destroyed.ExitCode == 0, $"destroy after recovery failed: {destroyed}");
        Assert.Empty(await fixture.Engine.ListAsync(ScopeLabels(scope), ct));
    }

    [Theory]
    [MemberData(nameof(DestroySteps))]
    public async Task Destroy_KilledAtStep_RestartFinishesTheDestroy(string step)
    {
        var ct = TestContext.Current.CancellationToken;
        var (dockhand, database, scope) = fixture.NewScope("kill-" + step.Replace(':', '-'));
        var user = SharedEngineFixture.NextUser();

        var created = await dockhand.RunAsync(["create", "--user", user, "--name", $"k{user}"], cancellationToken: ct);
        Assert.True(created.ExitCode == 0, $"create failed: {created}");
        var containerId = Assert.Single(await Records.ReadAsync(database, ct)).ContainerId;

        var killed = await dockhand.RunAsync(["destroy", "--user", user], Kill(step), cancellationToken: ct);
        Assert.True(killed.WasKilled, $"the kill point {step} was not reached: {killed}");

        var restarted = await dockhand.RunAsync(["reconcile", "--json"], cancellationToken: ct);
        Assert.True(restarted.ExitCode == 0, $"reconcile after the kill failed: {restarted}");

        await AssertConsistentAsync(database, scope, ct);
        Assert.Empty(await Records.ReadAsync(database, ct)); // the destroy was finished, not undone
        Assert.False(await fixture.Engine.ExistsAsync(containerId, ct), "the container of the interrupted destroy is still in the engine");
    }

    private static Dictionary<string, string?> Kill(string step) => new() { [FaultInjection.EnvironmentVariable] = step };

    private Dictionary<string, string> ScopeLabels(string scope) => new() { ["dockhand.test"] = fixture.RunId, ["resilience.scope"] = scope };

    /// <summary>0 orphans, 0 dangling records.</summary>
    private async Task AssertConsistentAsync(string database, string scope, CancellationToken ct)
    {
        var rows = await Records.ReadAsync(database, ct);
        var containers = await fixture.Engine.ListAsync(ScopeLabels(scope), ct);
        var orphans = containers.Where(c => rows.All(r => r.ContainerId != c.ID)).Select(c => c.ID[..12]).ToList();
        var dangling = rows.Where(r => r.State != "ready" || containers.All(c => c.ID != r.ContainerId)).Select(r => $"{r.Owner}:{r.State}").ToList();
        Assert.True(orphans.Count == 0, $"orphan containers: {string.Join(", ", orphans)}");
        Assert.True(dangling.Count == 0, $"dangling records: {string.Join(", ", dangling)}");
    }
}
