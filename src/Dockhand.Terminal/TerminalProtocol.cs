using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Terminal;

/// <summary>
/// The WebSocket protocol between the page and the server:
/// <list type="bullet">
/// <item>binary frames carry terminal bytes, both ways (UTF-8 from the keyboard; raw TTY output to the page);</item>
/// <item>text frames carry JSON control messages: page to server <c>{"type":"resize","cols":80,"rows":24}</c>;
/// server to page <c>{"type":"attached","shell":"/bin/bash","replayed":123}</c> (replayed output follows as binary)
/// and <c>{"type":"ended","reason":"…"}</c> just before the server closes the socket.</item>
/// </list>
/// </summary>
internal static class TerminalProtocol
{
    public const int MaxControlMessageBytes = 1024;
    public const int MaxColumns = 1000;
    public const int MaxRows = 500;

    public static byte[] Attached(string shell, int replayed)
        => JsonSerializer.SerializeToUtf8Bytes(new ServerMessage("attached", shell, replayed, null), TerminalJsonContext.Default.ServerMessage);

    public static byte[] Ended(string reason)
        => JsonSerializer.SerializeToUtf8Bytes(new ServerMessage("ended", null, null, reason), TerminalJsonContext.Default.ServerMessage);

    /// <summary>Parses a resize request; anything else (or out of range) is ignored.</summary>
    public static bool TryParseResize(ReadOnlySpan<byte> json, out int columns, out int rows)
    {
        columns = rows = 0;
        try
        {
            var message = JsonSerializer.Deserialize(json, TerminalJsonContext.Default.ClientMessage);
            if (message is not { Type: "resize", Cols: { } c, Rows: { } r } || c is < 1 or > MaxColumns || r is < 1 or > MaxRows)
                return false;
            columns = c;
            rows = r;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

internal sealed record ServerMessage(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("shell")] string? Shell,
    [property: JsonPropertyName("replayed")] int? Replayed,
    [property: JsonPropertyName("reason")] string? Reason);

internal sealed record ClientMessage(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("cols")] int? Cols,
    [property: JsonPropertyName("rows")] int? Rows);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ServerMessage))]
[JsonSerializable(typeof(ClientMessage))]
internal sealed partial class TerminalJsonContext : JsonSerializerContext;
