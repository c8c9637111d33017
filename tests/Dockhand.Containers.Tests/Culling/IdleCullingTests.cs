using System.Collections.Concurrent;
using Docker.DotNet.Models;
using Dockhand.Containers.Culling;
using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Containers.Tests.Culling;

/// <summary>
/// Idle culling on the real engine, with settings in seconds and the culler's clock a <see cref="FakeTimeProvider"/>:
/// each test drives the checks itself (or the service's timer, by advancing the clock), so no test waits out a duration.
/// </summary>
public sealed class IdleCullingTests(EngineFixture fixture)
{
    private static readonly TimeSpan IdleAfter = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Sessions a test attaches by hand, standing in for the web terminal's.</summary>
    private sealed class Attached : IContainerActivity
    {
        public ConcurrentDictionary<string, bool> Ids { get; } = new(StringComparer.Ordinal);

        public ValueTask<IReadOnlySet<string>> ContainersInUseAsync(CancellationToken cancellationToken = default)
            => ValueTask.FromResult<IReadOnlySet<string>>(Ids.Keys.ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>A harness on a fake clock, and the culler under test, which it owns.</summary>
    private sealed class Setup : IAsyncDisposable
    {
        public Setup(Harness harness, FakeTimeProvider clock)
        {
            Harness = harness;
            Clock = clock;
            Culler = new IdleCuller(harness.Service, harness.Store, harness.Engine, Activity, harness.Options, clock, NullLogger<IdleCuller>.Instance);
        }

        public Harness Harness { get; }

        public FakeTimeProvider Clock { get; }

        public Attached Activity { get; } = new();

        public IdleCuller Culler { get; }

        public async ValueTask DisposeAsync()
        {
            Culler.Dispose();
            await Harness.DisposeAsync();
        }
    }

    private async Task<Setup> SetUpAsync(TimeSpan? idleStopAfter, TimeSpan? stoppedDestroyAfter = null)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var harness = await Harness.CreateAsync(fixture, o => o with { IdleStopAfter = idleStopAfter, StoppedDestroyAfter = stoppedDestroyAfter }, time: clock);
        return new Setup(harness, clock);
    }

    private static async Task<ContainerRecord> CreateAsync(Harness harness, OwnerId owner)
        => Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct)).Status.Record;

    private static async Task<string> StateAsync(Harness harness, string id)
        => (await harness.Docker.Containers.InspectContainerAsync(id, Ct)).State?.Status ?? "";

    /// <summary>Two checks IdleAfter apart, as the timer would make them (and a third, so one late sample cannot hide a stop).</summary>
    private static async Task CheckOverIdlePeriodAsync(Setup setup)
    {
        await setup.Culler.CheckAsync(Ct);
        setup.Clock.Advance(IdleAfter);
        await setup.Culler.CheckAsync(Ct);
        setup.Clock.Advance(IdleAfter);
        await setup.Culler.CheckAsync(Ct);
    }

    [Fact]
    public async Task CheckAsync_IdleForTheSetting_StopsWithoutDestroyingAuditsAndStatusSaysSo()
    {
        await using var setup = await SetUpAsync(IdleAfter);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(setup.Harness, owner);

        var first = await setup.Culler.CheckAsync(Ct);
        setup.Clock.Advance(IdleAfter - TimeSpan.FromSeconds(1));
        var early = await setup.Culler.CheckAsync(Ct);
        Assert.Equal("running", await StateAsync(setup.Harness, record.ContainerId));
        setup.Clock.Advance(TimeSpan.FromSeconds(1));
        var due = await setup.Culler.CheckAsync(Ct);

        Assert.Equal((1, 0), (first.Running, first.Stopped));
        Assert.Equal(0, early.Stopped);
        Assert.Equal(1, due.Stopped);
        Assert.Equal("exited", await StateAsync(setup.Harness, record.ContainerId));
        Assert.NotNull(await setup.Harness.Service.FindAsync(owner, Ct));
        var audit = Assert.Single(await setup.Harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Action == "idle_stop");
        Assert.Equal(("dockhand:idle", "stopped", record.ContainerId), (audit.Actor, audit.Outcome, audit.ContainerId));
        Assert.StartsWith("after 10s idle", audit.Detail);
        var status = Assert.IsType<StatusResult.Found>(await setup.Harness.Service.StatusAsync(owner, Ct)).Status;
        Assert.Equal(LiveState.Exited, status.State);
        Assert.Equal("10s", status.StoppedIdleAfter);
    }

    [Fact]
    public async Task CheckAsync_TerminalAttached_KeepsRunningUntilDetachedAndIdleAgain()
    {
        await using var setup = await SetUpAsync(IdleAfter);
        var record = await CreateAsync(setup.Harness, Harness.NewOwner());
        setup.Activity.Ids[record.ContainerId] = true;

        await CheckOverIdlePeriodAsync(setup);
        Assert.Equal("running", await StateAsync(setup.Harness, record.ContainerId));

        // The idle period starts when the session ends, not when the container last had CPU use.
        setup.Activity.Ids.TryRemove(record.ContainerId, out _);
        await setup.Culler.CheckAsync(Ct);
        Assert.Equal("running", await StateAsync(setup.Harness, record.ContainerId));
        setup.Clock.Advance(IdleAfter);
        await setup.Culler.CheckAsync(Ct);
        Assert.Equal("exited", await StateAsync(setup.Harness, record.ContainerId));
    }

    [Fact]
    public async Task CheckAsync_BusyProcess_KeepsRunningUntilItEnds()
    {
        await using var setup = await SetUpAsync(IdleAfter);
        var record = await CreateAsync(setup.Harness, Harness.NewOwner());
        // Left running in the background (the exec itself ends), until the test creates /tmp/stop.
        await setup.Harness.ExecAsync(record.ContainerId, "sh", "-c", "(while [ ! -e /tmp/stop ]; do :; done; touch /tmp/stopped) >/dev/null 2>&1 &");

        await CheckOverIdlePeriodAsync(setup);
        Assert.Equal("running", await StateAsync(setup.Harness, record.ContainerId));

        await setup.Harness.ExecAsync(record.ContainerId, "touch", "/tmp/stop");
        await Eventually.TrueAsync(async () => (await setup.Harness.ExecAsync(record.ContainerId, "ls", "/tmp")).Contains("stopped", StringComparison.Ordinal), "the busy loop to end", Ct, WaitLimit, PollInterval);
        await setup.Culler.CheckAsync(Ct);
        setup.Clock.Advance(IdleAfter);
        await setup.Culler.CheckAsync(Ct);
        Assert.Equal("exited", await StateAsync(setup.Harness, record.ContainerId));
    }

    [Fact]
    public async Task StartIfIdleStoppedAsync_IdleStopped_StartsItAndAuditsTheOwnersStart()
    {
        await using var setup = await SetUpAsync(IdleAfter);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(setup.Harness, owner);
        await CheckOverIdlePeriodAsync(setup);
        Assert.Equal("exited", await StateAsync(setup.Harness, record.ContainerId));

        var restarted = await setup.Harness.Service.StartIfIdleStoppedAsync(owner, Actor.Discord(owner.Value), Ct);

        Assert.Equal("10s", restarted);
        Assert.Equal("running", await StateAsync(setup.Harness, record.ContainerId));
        Assert.Equal(("start", "done"), (await setup.Harness.Store.ReadAuditAsync(owner, 1, Ct)) is [var newest] ? (newest.Action, newest.Outcome) : default);
        Assert.Null(Assert.IsType<StatusResult.Found>(await setup.Harness.Service.StatusAsync(owner, Ct)).Status.StoppedIdleAfter);
    }

    [Fact]
    public async Task StartIfIdleStoppedAsync_StoppedByItsOwner_LeavesItStopped()
    {
        await using var setup = await SetUpAsync(IdleAfter);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(setup.Harness, owner);
        await CheckOverIdlePeriodAsync(setup);
        await setup.Harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct);
        await setup.Harness.Service.ApplyAsync(owner, LifecycleAction.Stop, Actor.Cli("test"), Ct);

        var restarted = await setup.Harness.Service.StartIfIdleStoppedAsync(owner, Actor.Discord(owner.Value), Ct);

        Assert.Null(restarted);
        Assert.Equal("exited", await StateAsync(setup.Harness, record.ContainerId));
        Assert.Null(Assert.IsType<StatusResult.Found>(await setup.Harness.Service.StatusAsync(owner, Ct)).Status.StoppedIdleAfter);
    }

    [Fact]
    public async Task CheckAsync_StoppedLongerThanStoppedDestroyAfter_DestroysAndKeepsHomeVolume()
    {
        await using var setup = await SetUpAsync(idleStopAfter: null, stoppedDestroyAfter: TimeSpan.FromSeconds(30));
        var stoppedOwner = Harness.NewOwner();
        var runningOwner = Harness.NewOwner();
        var stopped = await CreateAsync(setup.Harness, stoppedOwner);
        var running = await CreateAsync(setup.Harness, runningOwner);
        await setup.Harness.Service.ApplyAsync(stoppedOwner, LifecycleAction.Stop, Actor.Cli("test"), Ct);

        var early = await setup.Culler.CheckAsync(Ct);
        setup.Clock.Advance(TimeSpan.FromMinutes(2));
        var due = await setup.Culler.CheckAsync(Ct);

        Assert.Equal(0, early.Destroyed);
        Assert.Equal(1, due.Destroyed);
        Assert.Null(await setup.Harness.Service.FindAsync(stoppedOwner, Ct));
        Assert.NotNull(await setup.Harness.Service.FindAsync(runningOwner, Ct));
        var left = await setup.Harness.ScopedContainersAsync();
        Assert.Equal(running.ContainerId, Assert.Single(left).ID);
        Assert.Contains(await setup.Harness.ScopedVolumesAsync(), v => v.Name == ContainerService.HomeVolumeName(setup.Harness.InstanceId, stoppedOwner));
        Assert.Contains(await setup.Harness.Store.ReadAuditAsync(stoppedOwner, cancellationToken: Ct),
            a => a is { Action: "stopped_destroy", Outcome: "destroyed", Actor: "dockhand:idle", Detail: "home volume kept" });
    }

    [Fact]
    public async Task CheckAsync_AnotherInstancesAndUnrecordedContainers_NeverTouched()
    {
        await using var setup = await SetUpAsync(IdleAfter, stoppedDestroyAfter: TimeSpan.FromSeconds(30));
        var own = await CreateAsync(setup.Harness, Harness.NewOwner());
        var foreignLabels = new Dictionary<string, string>
        {
            ["dockhand.managed"] = "true",
            ["dockhand.instance"] = "0123456789abcdef",
            ["dockhand.owner"] = Harness.NewOwner().ToString(),
        };
        var foreignRunning = await setup.Harness.RunForeignAsync(Harness.NewName("foreign"), foreignLabels);
        var foreignStopped = await setup.Harness.RunForeignAsync(Harness.NewName("foreign"), foreignLabels);
        // Ours by label, but with no record here: the reconciler's to judge, not culling's.
        var unrecorded = await setup.Harness.RunForeignAsync(Harness.NewName("orphan"), setup.Harness.OwnLabels(Harness.NewOwner(), "orphan"));
        await setup.Harness.Docker.Containers.StopContainerAsync(foreignStopped, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Ct);

        await CheckOverIdlePeriodAsync(setup);
        setup.Clock.Advance(TimeSpan.FromDays(1));
        await setup.Culler.CheckAsync(Ct);

        Assert.Equal("running", await StateAsync(setup.Harness, foreignRunning));
        Assert.Equal("exited", await StateAsync(setup.Harness, foreignStopped));
        Assert.Equal("running", await StateAsync(setup.Harness, unrecorded));
        // The same passes did act on this instance's own container: stopped when idle, then destroyed a day later.
        Assert.DoesNotContain(await setup.Harness.ScopedContainersAsync(), c => c.ID == own.ContainerId);
    }

    [Fact]
    public async Task IdleCullerService_ClockAdvances_ChecksOnTheInjectedClockAndStops()
    {
        await using var setup = await SetUpAsync(IdleAfter);
        var record = await CreateAsync(setup.Harness, Harness.NewOwner());
        using var service = new IdleCullerService(setup.Culler, setup.Clock, setup.Harness.Options, NullLogger<IdleCullerService>.Instance);
        await service.StartAsync(Ct);
        try
        {
            Assert.Equal(TimeSpan.FromSeconds(2.5), setup.Culler.Interval);
            for (var tick = 1; tick <= 8 && await StateAsync(setup.Harness, record.ContainerId) == "running"; tick++)
            {
                setup.Clock.Advance(setup.Culler.Interval);
                var expected = tick;
                await Eventually.TrueAsync(() => setup.Culler.Checks >= expected, $"check {expected}", Ct, WaitLimit, PollInterval);
            }

            Assert.Equal("exited", await StateAsync(setup.Harness, record.ContainerId));
            // First seen idle at tick 1, stopped at the first tick at least 10 s later: tick 5.
            Assert.Equal(5, setup.Culler.Checks);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Theory]
    [InlineData(1, 0.25)]
    [InlineData(10, 2.5)]
    [InlineData(240, 60)]
    [InlineData(8 * 3600, 60)]
    public void IntervalFor_IdleStopAfter_IsAQuarterAtMostAMinute(int seconds, double expectedSeconds)
        => Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), IdleCuller.IntervalFor(new ContainerOptions { IdleStopAfter = TimeSpan.FromSeconds(seconds) }));

    [Fact]
    public void IntervalFor_BothSettings_FollowsTheShorter()
        => Assert.Equal(TimeSpan.FromSeconds(5), IdleCuller.IntervalFor(new ContainerOptions { IdleStopAfter = TimeSpan.FromHours(8), StoppedDestroyAfter = TimeSpan.FromSeconds(20) }));
}
