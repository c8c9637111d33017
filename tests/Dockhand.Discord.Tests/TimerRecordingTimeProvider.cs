using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Discord.Tests;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that records the timers its users create, so a test can wait (bounded, in real
/// time) until the code under test has registered the timer it means to fire before it moves the fake clock. Moving
/// the clock before the timer exists loses the move: a fixed real-time sleep before <c>Advance</c> only makes that
/// unlikely, and under CPU starvation it happens.
/// </summary>
internal sealed class TimerRecordingTimeProvider(FakeTimeProvider inner) : TimeProvider
{
    /// <summary>How long a wait may take in real time: an upper bound for a CPU-starved machine (a passing wait
    /// returns as soon as its condition holds), so a slow run is slow, not failed.</summary>
    public static readonly TimeSpan WaitLimit = Eventually.DefaultLimit;

    private readonly object _lock = new();
    private readonly List<RecordedTimer> _timers = [];

    public TimerRecordingTimeProvider(DateTimeOffset start)
        : this(new FakeTimeProvider(start))
    {
    }

    public FakeTimeProvider Inner => inner;

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public void Advance(TimeSpan by) => inner.Advance(by);

    /// <summary>How long from now each timer that is still armed will fire, soonest first.</summary>
    public IReadOnlyList<TimeSpan> PendingDueIn()
    {
        var now = inner.GetUtcNow();
        lock (_lock)
            return [.. _timers.Where(t => t.Due is not null).Select(t => t.Due!.Value - now).Order()];
    }

    /// <summary>True when an armed timer fires exactly <paramref name="dueIn"/> from now.</summary>
    public bool HasPendingTimer(TimeSpan dueIn) => PendingDueIn().Contains(dueIn);

    /// <summary>Waits (real time, WaitLimit by default) until an armed timer fires exactly <paramref name="dueIn"/> from now.</summary>
    public Task WaitForTimerAsync(TimeSpan dueIn, TimeSpan? timeout = null) =>
        WaitForTimerAsync(d => d == dueIn, $"a timer due in {dueIn}", timeout);

    /// <summary>Waits (real time, WaitLimit by default) until an armed timer's due time (from now) matches <paramref name="dueIn"/>.</summary>
    public async Task WaitForTimerAsync(Func<TimeSpan, bool> dueIn, string description, TimeSpan? timeout = null)
    {
        try
        {
            await Eventually.TrueAsync(() => PendingDueIn().Any(dueIn), description, TestContext.Current.CancellationToken, timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Waited for {description}; armed timers are due in: [{string.Join(", ", PendingDueIn())}].");
        }
    }

    /// <summary>
    /// Waits (real time, WaitLimit at most) until at least <paramref name="timers"/> timers are armed, and returns how long
    /// from now each armed timer fires, soonest first. Fails at once when one of <paramref name="mustStayPending"/>
    /// completes first: the code under test went through (or failed) instead of waiting. Code that waits on this clock
    /// is parked once its timer is armed (nothing changes until the clock moves), so the caller can assert the exact due
    /// times at once; a wrong wait fails in milliseconds instead of at the end of a 30 s poll for the expected one.
    /// </summary>
    public async Task<IReadOnlyList<TimeSpan>> WaitForArmedAsync(int timers, params Task[] mustStayPending)
    {
        await Eventually.TrueAsync(
            () =>
            {
                if (mustStayPending.FirstOrDefault(t => t.IsCompleted) is { } done)
                    throw new InvalidOperationException(
                        $"A wait ended before the clock moved ({done.Status}{(done.Exception is { } e ? ": " + e.InnerException?.Message : "")}); armed timers are due in: [{string.Join(", ", PendingDueIn())}].");
                return PendingDueIn().Count >= timers;
            },
            $"{timers} armed timer(s)",
            TestContext.Current.CancellationToken,
            WaitLimit);
        return PendingDueIn();
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var record = new RecordedTimer();
        lock (_lock)
        {
            Arm(record, dueTime, period);
            _timers.Add(record);
        }

        var timer = inner.CreateTimer(
            s =>
            {
                lock (_lock)
                {
                    // One-shot timers are spent; periodic ones are next due one period later.
                    record.Due = record.Period is { } p ? record.Due + p : null;
                }

                callback(s);
            },
            state,
            dueTime,
            period);
        return new Recorded(this, timer, record);
    }

    private void Arm(RecordedTimer record, TimeSpan dueTime, TimeSpan period)
    {
        record.Due = dueTime == Timeout.InfiniteTimeSpan ? null : inner.GetUtcNow() + dueTime;
        record.Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
    }

    private sealed class RecordedTimer
    {
        public DateTimeOffset? Due { get; set; }

        public TimeSpan? Period { get; set; }
    }

    private sealed class Recorded(TimerRecordingTimeProvider owner, ITimer timer, RecordedTimer record) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
                owner.Arm(record, dueTime, period);
            return timer.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (owner._lock)
            {
                record.Due = null;
                owner._timers.Remove(record);
            }

            timer.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
