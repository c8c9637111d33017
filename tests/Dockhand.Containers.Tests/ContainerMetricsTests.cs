using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Containers.Tests;

/// <summary>The gauge's recounts: requested by operations and events, made once per burst, after it.</summary>
public sealed class ContainerMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RequestRecount_ABurstOfRequests_CountsOnceWhenTheSettleTimeHasPassed()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var clock = new TimerCountingClock();
        var metrics = new ContainerMetrics(meters.GetRequiredService<IMeterFactory>(), clock);
        var counts = 0;
        metrics.UseRecount(() =>
        {
            Interlocked.Increment(ref counts);
            return Task.CompletedTask;
        });

        // A create's own request and the engine's start event of it, within milliseconds.
        metrics.RequestRecount();
        metrics.RequestRecount();
        metrics.RequestRecount();
        await Eventually.TrueAsync(() => clock.Timers == 1, "the recount's wait to be armed", Ct);
        clock.Advance(ContainerMetrics.RecountSettle - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, Volatile.Read(ref counts));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => Volatile.Read(ref counts) == 1, "the burst's one recount", Ct);

        // The next operation's request is not lost to the one before.
        metrics.RequestRecount();
        await Eventually.TrueAsync(() => clock.Timers == 2, "the next recount's wait to be armed", Ct);
        clock.Advance(ContainerMetrics.RecountSettle);
        await Eventually.TrueAsync(() => Volatile.Read(ref counts) == 2, "the next recount", Ct);
        Assert.Equal(2, clock.Timers);
    }

    [Fact]
    public async Task RequestRecount_WhileACountRuns_CountsAgainAfterItNeverBesideIt()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var clock = new TimerCountingClock();
        var metrics = new ContainerMetrics(meters.GetRequiredService<IMeterFactory>(), clock);
        var slowList = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int started = 0, running = 0, mostAtOnce = 0;
        metrics.UseRecount(async () =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref mostAtOnce, now);
            // The first count lists slowly (a thousand containers); the ones after it are quick.
            if (Interlocked.Increment(ref started) == 1)
                await slowList.Task;
            Interlocked.Decrement(ref running);
        });

        metrics.RequestRecount();
        await Eventually.TrueAsync(() => clock.Timers == 1, "the first recount's wait to be armed", Ct);
        clock.Advance(ContainerMetrics.RecountSettle);
        await Eventually.TrueAsync(() => Volatile.Read(ref started) == 1, "the first (slow) recount", Ct);
        // An operation ends while the slow count runs: its count must come after it, not beside it.
        metrics.RequestRecount();
        clock.Advance(ContainerMetrics.RecountSettle * 4);
        Assert.Equal(1, Volatile.Read(ref started));

        slowList.SetResult();
        await Eventually.TrueAsync(() => clock.Timers == 2, "the second recount's wait to be armed", Ct);
        clock.Advance(ContainerMetrics.RecountSettle);
        await Eventually.TrueAsync(() => Volatile.Read(ref started) == 2 && Volatile.Read(ref running) == 0, "the second recount, after the first", Ct);
        Assert.Equal(1, Volatile.Read(ref mostAtOnce));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var previous && previous != seen)
            seen = previous;
    }

    /// <summary>A fake clock that counts the timers armed on it (a Task.Delay arms one).</summary>
    private sealed class TimerCountingClock : TimeProvider
    {
        private readonly FakeTimeProvider _clock = new();
        private int _timers;

        public int Timers => Volatile.Read(ref _timers);

        public void Advance(TimeSpan by) => _clock.Advance(by);

        public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

        public override long GetTimestamp() => _clock.GetTimestamp();

        public override long TimestampFrequency => _clock.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            // Counted once armed: a test that sees the count and advances the clock must not get there first.
            var timer = _clock.CreateTimer(callback, state, dueTime, period);
            Interlocked.Increment(ref _timers);
            return timer;
        }
    }
}
