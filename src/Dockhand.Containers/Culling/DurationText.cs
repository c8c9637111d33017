using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Dockhand.Containers.Culling;

/// <summary>
/// Durations as operators write them in settings (<c>8h</c>, <c>30d</c>, <c>90m</c>, <c>1h30m</c>, <c>45s</c>) and as
/// Dockhand writes them back to users ("stopped after 8h idle").
/// </summary>
public static partial class DurationText
{
    /// <summary>The shortest duration a setting may hold: culling checks run a quarter of it apart.</summary>
    public static TimeSpan Minimum { get; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest: ten years, far beyond any sensible setting, and well inside what a timer can hold.</summary>
    public static TimeSpan Maximum { get; } = TimeSpan.FromDays(3650);

    /// <summary>One or more number-and-unit pairs (d, h, m, s); the total must be between <see cref="Minimum"/> and <see cref="Maximum"/>.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var match = Pattern().Match(text.Trim());
        if (!match.Success)
            return false;
        var total = 0m;
        for (var i = 0; i < match.Groups["n"].Captures.Count; i++)
        {
            if (!decimal.TryParse(match.Groups["n"].Captures[i].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            total += number * char.ToLowerInvariant(match.Groups["u"].Captures[i].Value[0]) switch
            {
                'd' => 86_400m,
                'h' => 3_600m,
                'm' => 60m,
                _ => 1m,
            };
            if (total > (decimal)Maximum.TotalSeconds)
                return false;
        }
        duration = TimeSpan.FromSeconds((double)total);
        return duration >= Minimum;
    }

    /// <summary>The compact form a user would write: 8h, 30d, 1h30m, 45s (whole seconds; below a second, milliseconds).</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration < Minimum)
            return $"{Math.Max(0, duration.TotalMilliseconds).ToString("0", CultureInfo.InvariantCulture)}ms";
        var seconds = (long)Math.Round(duration.TotalSeconds);
        var text = new StringBuilder();
        foreach (var (unit, size) in new[] { ('d', 86_400L), ('h', 3_600L), ('m', 60L), ('s', 1L) })
        {
            if (seconds < size)
                continue;
            text.Append((seconds / size).ToString(CultureInfo.InvariantCulture)).Append(unit);
            seconds %= size;
        }
        return text.ToString();
    }

    [GeneratedRegex(@"^(?:(?<n>\d+(?:\.\d+)?)\s*(?<u>[dhmsDHMS])\s*)+$")]
    private static partial Regex Pattern();
}
