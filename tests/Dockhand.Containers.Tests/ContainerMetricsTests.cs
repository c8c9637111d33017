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
            Interlocked.Increment(ref _timers);
            return _clock.CreateTimer(callback, state, dueTime, period);
        }
    }
}
