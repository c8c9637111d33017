using System.Globalization;
using System.Text.Json.Nodes;

namespace Dockhand.Benchmarks.Support;

/// <summary>How figures print numbers (invariant culture) and keep raw samples in latest.json.</summary>
internal static class Format
{
    public static CultureInfo Inv => CultureInfo.InvariantCulture;

    public static string Ms(double value) => value.ToString(value < 10 ? "0.00" : "0.0", Inv) + " ms";

    public static string F(double value, string format = "0.00") => value.ToString(format, Inv);

    public static JsonArray Array(IEnumerable<double> values) => new([.. values.Select(v => (JsonNode)Math.Round(v, 3))]);
}
