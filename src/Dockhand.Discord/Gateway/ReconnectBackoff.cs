namespace Dockhand.Discord.Gateway;

/// <summary>
/// Delay before the next connection attempt. Attempt 0 (the first reconnect after a healthy session) is immediate;
/// each further failed attempt doubles the base delay up to a cap, and a jitter factor in [0.5, 1) spreads clients apart.
/// </summary>
internal sealed class ReconnectBackoff(TimeSpan baseDelay, TimeSpan maxDelay, Func<double> random)
{
    public static ReconnectBackoff CreateDefault(Func<double> random) =>
        new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), random);

    public TimeSpan BaseDelay => baseDelay;

    public TimeSpan MaxDelay => maxDelay;

    public TimeSpan GetDelay(int attempt)
    {
        if (attempt <= 0)
            return TimeSpan.Zero;

        var exponent = Math.Min(attempt - 1, 30);
        var raw = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        var factor = 0.5 + (0.5 * Math.Clamp(random(), 0, 1));
        return TimeSpan.FromMilliseconds(raw * factor);
    }
}
