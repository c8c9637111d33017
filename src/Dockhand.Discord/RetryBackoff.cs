namespace Dockhand.Discord;

/// <summary>
/// Delay before retry number <c>attempt</c> (1-based): <c>baseDelay · 2^(attempt-1)</c>, capped at <c>maxDelay</c>,
/// times a jitter factor in [0.5, 1) when a random source is given (so that many clients do not retry in step).
/// Attempt 0 or less is immediate (the gateway's first reconnect after a healthy session). One type for every
/// Discord-side retry: gateway reconnects and REST retries after edge errors or dropped connections.
/// </summary>
internal sealed class RetryBackoff(TimeSpan baseDelay, TimeSpan maxDelay, Func<double>? random = null)
{
    /// <summary>Gateway reconnects: 1 s doubling to 60 s, with jitter.</summary>
    public static RetryBackoff Reconnect(Func<double> random) => new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), random);

    public TimeSpan GetDelay(int attempt)
    {
        if (attempt <= 0)
            return TimeSpan.Zero;

        var exponent = Math.Min(attempt - 1, 30);
        var raw = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        var factor = random is null ? 1 : 0.5 + (0.5 * Math.Clamp(random(), 0, 1));
        return TimeSpan.FromMilliseconds(raw * factor);
    }
}
