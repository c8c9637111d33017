using System.Globalization;
using System.Text.Json.Nodes;

namespace Dockhand.Benchmarks.Support;

/// <summary>Order statistics over samples in milliseconds (or any unit), and the distribution the report keeps.</summary>
internal static class Stats
{
    /// <summary>Upper bounds (ms) of the coarse histogram in latest.json; the last bucket is everything above.</summary>
    private static readonly double[] s_bucketsMs = [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200];

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

    /// <summary>"p50 …, p90 …, p99 …, p99.9 …, max …" in ms.</summary>
    public static string Describe(IReadOnlyCollection<double> samples)
        => $"p50 {Format.Ms(Percentile(samples, 50))}, p90 {Format.Ms(Percentile(samples, 90))}, p99 {Format.Ms(Percentile(samples, 99))}, " +
           $"p99.9 {Format.Ms(Percentile(samples, 99.9))}, max {Format.Ms(samples.Count == 0 ? double.NaN : samples.Max())}";

    /// <summary>Count, percentiles, max and a coarse histogram (bucket upper bound in ms → samples).</summary>
    public static JsonObject Distribution(IReadOnlyCollection<double> samples)
    {
        var histogram = new JsonObject();
        var lower = double.NegativeInfinity;
        foreach (var upper in s_bucketsMs.Append(double.PositiveInfinity))
        {
            var count = samples.Count(s => s > lower && s <= upper);
            histogram[double.IsPositiveInfinity(upper) ? $">{s_bucketsMs[^1].ToString(CultureInfo.InvariantCulture)}" : $"<={upper.ToString(CultureInfo.InvariantCulture)}"] = count;
            lower = upper;
        }
        return new JsonObject
        {
            ["count"] = samples.Count,
            ["p50_ms"] = Percentile(samples, 50),
            ["p90_ms"] = Percentile(samples, 90),
            ["p99_ms"] = Percentile(samples, 99),
            ["p99_9_ms"] = Percentile(samples, 99.9),
            ["max_ms"] = samples.Count == 0 ? double.NaN : samples.Max(),
            ["mean_ms"] = samples.Count == 0 ? double.NaN : samples.Average(),
            ["histogram_ms"] = histogram,
        };
    }
}
