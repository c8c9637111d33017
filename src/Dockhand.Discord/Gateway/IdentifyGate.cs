namespace Dockhand.Discord.Gateway;

/// <summary>
/// Identify limits from GET /gateway/bot: one Identify per rate-limit bucket (shard_id % max_concurrency) per 5 s,
/// and no Identify while remaining session starts are used up (wait for reset_after). Dockhand runs one shard (0),
/// so in practice this is one Identify per 5 s. Resume is not limited by it.
/// </summary>
internal sealed class IdentifyGate(TimeProvider timeProvider)
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(5);

    private readonly Dictionary<int, DateTimeOffset> _lastIdentifyByBucket = [];
    private int _maxConcurrency = 1;
    private int _remaining = int.MaxValue;
    private DateTimeOffset _resetAt = DateTimeOffset.MinValue;

    public int MaxConcurrency => _maxConcurrency;

    public int RemainingSessionStarts => _remaining;

    public void Update(GatewayBotInfo info)
    {
        _maxConcurrency = Math.Max(1, info.MaxConcurrency);
        _remaining = info.RemainingSessionStarts;
        _resetAt = timeProvider.GetUtcNow() + info.ResetAfter;
    }

    /// <summary>How long the Identify for <paramref name="shardId"/> must wait; zero when it may go now.</summary>
    public TimeSpan GetDelay(int shardId = 0)
    {
        var now = timeProvider.GetUtcNow();
        var wait = TimeSpan.Zero;
        if (_remaining <= 0 && _resetAt > now)
            wait = _resetAt - now;

        if (_lastIdentifyByBucket.TryGetValue(shardId % _maxConcurrency, out var last) && last + Window > now)
        {
            var bucketWait = last + Window - now;
            if (bucketWait > wait)
                wait = bucketWait;
        }

        return wait;
    }

    public bool SessionStartsExhausted => _remaining <= 0 && _resetAt > timeProvider.GetUtcNow();

    public void RecordIdentify(int shardId = 0)
    {
        var now = timeProvider.GetUtcNow();
        _lastIdentifyByBucket[shardId % _maxConcurrency] = now;
        if (_remaining <= 0 && _resetAt <= now)
            _remaining = int.MaxValue; // the window reset; the next /gateway/bot answer gives the real number
        if (_remaining != int.MaxValue)
            _remaining--;
    }
}
