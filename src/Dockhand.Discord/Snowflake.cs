using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Discord;

/// <summary>
/// A Discord id (user, guild, channel, interaction, application, message). Discord sends ids as decimal strings of a
/// 64-bit unsigned integer; 0 is never a valid id. The one place ids are parsed and formatted.
/// </summary>
[JsonConverter(typeof(SnowflakeJsonConverter))]
public readonly record struct Snowflake(ulong Value)
{
    /// <summary>Digits only (no sign, spaces or separators), at most 20 of them, and not 0.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Snowflake snowflake)
    {
        snowflake = default;
        if (text is null || text.Length is 0 or > 20
            || !ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value == 0)
            return false;
        snowflake = new Snowflake(value);
        return true;
    }

    /// <summary>The id, or null when <paramref name="text"/> is not one (see <see cref="TryParse"/>).</summary>
    public static Snowflake? ParseOrNull(string? text) => TryParse(text, out var id) ? id : null;

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Both ways implicit: an id is a 64-bit number, and the Containers module keeps owners as plain ulong.
    /// The point of the type is one parser and one format, not a wall around the number.</summary>
    public static implicit operator Snowflake(ulong value) => new(value);

    public static implicit operator ulong(Snowflake snowflake) => snowflake.Value;
}

/// <summary>Reads an id from a JSON string (Discord's form) or number; writes it as a string.</summary>
internal sealed class SnowflakeJsonConverter : JsonConverter<Snowflake>
{
    public override Snowflake Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out var number) && number != 0)
            return new Snowflake(number);
        if (reader.TokenType == JsonTokenType.String && Snowflake.TryParse(reader.GetString(), out var id))
            return id;
        throw new JsonException("Expected a Discord id (a string of digits).");
    }

    public override void Write(Utf8JsonWriter writer, Snowflake value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
