namespace Dockhand.Discord.Gateway;

/// <summary>
/// Sliding-window log of sends against Discord's 120 events / 60 s per connection. Ordinary sends may use
/// <c>limit - reserved</c> slots in any window; control frames (heartbeat, identify, resume) are always let through
/// and use the reserved headroom. Not thread-safe: only the send loop touches it.
/// </summary>
internal sealed class GatewaySendLimiter(int limit, int reservedForControl, TimeSpan window)
{
    private readonly List<DateTimeOffset> _sent = [];
    private readonly int _ordinaryLimit = limit - reservedForControl;

    public int CountInWindow(DateTimeOffset now)
    {
        Prune(now);
        return _sent.Count;
    }

    /// <summary>How long an ordinary send must wait; zero when it may go now.</summary>
    public TimeSpan DelayForOrdinary(DateTimeOffset now)
    {
        Prune(now);
        if (_sent.Count < _ordinaryLimit)
            return TimeSpan.Zero;

        // The send becomes possible when enough of the oldest entries have left the window. Prune kept only entries
        // still in it, so this is always positive.
        var mustExpire = _sent[_sent.Count - _ordinaryLimit];
        return mustExpire + window - now;
    }

    public void Record(DateTimeOffset now) => _sent.Add(now);

    private void Prune(DateTimeOffset now)
    {
        var expired = 0;
        while (expired < _sent.Count && _sent[expired] + window <= now)
            expired++;
        _sent.RemoveRange(0, expired);
    }
}
