namespace Dockhand.Benchmarks.Support;

/// <summary>Order statistics over samples in milliseconds (or any unit).</summary>
internal static class Stats
{
    public static double Median(IReadOnlyCollection<double> samples) => Percentile(samples, 50);

    /// <summary>Nearest-rank percentile.</summary>
    public static double Percentile(IReadOnlyCollection<double> samples, double percentile)
    {
        if (samples.Count == 0)
            return double.NaN;
        var sorted = samples.Order().ToArray();
        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
