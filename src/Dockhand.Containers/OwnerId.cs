using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Dockhand.Containers;

/// <summary>The owner of a container: a Discord user's snowflake. The container layer treats it as an opaque 64-bit id.</summary>
public readonly record struct OwnerId(ulong Value)
{
    public static bool TryParse([NotNullWhen(true)] string? text, out OwnerId owner)
    {
        owner = default;
        if (text is null || text.Length is 0 or > 20 || !ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value == 0)
            return false;
        owner = new OwnerId(value);
        return true;
    }

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Who asked for an operation, as written to the audit log, e.g. <c>discord:80351110224678912</c> or <c>cli:root</c>.</summary>
public sealed record Actor(string Id)
{
    public static Actor Discord(ulong userId) => new($"discord:{userId.ToString(CultureInfo.InvariantCulture)}");

    public static Actor Cli(string userName) => new($"cli:{userName}");

    public static Actor System { get; } = new("dockhand:reconciler");

    public override string ToString() => Id;
}
