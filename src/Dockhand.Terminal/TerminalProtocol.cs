using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Terminal;

/// <summary>
/// The WebSocket protocol between the page and the server:
/// <list type="bullet">
/// <item>binary frames carry terminal bytes, both ways (UTF-8 from the keyboard; raw TTY output to the page);</item>
/// <item>text frames carry JSON control messages: page to server <c>{"type":"resize","cols":80,"rows":24}</c>;
/// server to page <c>{"type":"attached","shell":"/bin/bash","replayed":123,"container":"dev","owner":"8035…"}</c>
/// (replayed output follows as binary; <c>"notice":"…"</c> when the session was reopened with a new shell, for the page to show)
/// and <c>{"type":"ended","reason":"…"}</c> just before the server closes the socket.</item>
/// </list>
/// </summary>
internal static class TerminalProtocol
{
    public const int MaxControlMessageBytes = 1024;
    public const int MaxColumns = 1000;
    public const int MaxRows = 500;

    public static byte[] Attached(string shell, int replayed, string containerName, string owner, string? notice = null)
        => JsonSerializer.SerializeToUtf8Bytes(new ServerMessage("attached", shell, replayed, null, containerName, owner, notice), TerminalJsonContext.Default.ServerMessage);

    public static byte[] Ended(string reason)
        => JsonSerializer.SerializeToUtf8Bytes(new ServerMessage("ended", null, null, reason, null, null, null), TerminalJsonContext.Default.ServerMessage);

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

/// <summary>
/// Puts a control message back together from the text frames it arrived in (a browser may split one message), keeping at
/// most <see cref="TerminalProtocol.MaxControlMessageBytes"/>: a longer message is dropped whole.
/// </summary>
internal sealed class ControlMessageReader
{
    private readonly byte[] _message = new byte[TerminalProtocol.MaxControlMessageBytes];
    private int _length;

    /// <summary>Adds one text frame; true when it completed a valid resize request.</summary>
    public bool TryReadResize(ReadOnlySpan<byte> frame, bool endOfMessage, out int columns, out int rows)
    {
        if (_length + frame.Length <= _message.Length)
            frame.CopyTo(_message.AsSpan(_length));
        _length += frame.Length;
        columns = rows = 0;
        if (!endOfMessage)
            return false;
        var complete = _length <= _message.Length && TerminalProtocol.TryParseResize(_message.AsSpan(0, _length), out columns, out rows);
        _length = 0;
        return complete;
    }
}

internal sealed record ServerMessage(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("shell")] string? Shell,
    [property: JsonPropertyName("replayed")] int? Replayed,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("container")] string? Container,
    [property: JsonPropertyName("owner")] string? Owner,
    [property: JsonPropertyName("notice")] string? Notice);

internal sealed record ClientMessage(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("cols")] int? Cols,
    [property: JsonPropertyName("rows")] int? Rows);

/// <summary>Body of <c>POST /terminal/{id}/session</c>: the token travels here, never in that request's URL.</summary>
internal sealed record RedeemRequest([property: JsonPropertyName("token")] string? Token);

/// <summary>A redeemed link: whose container the page is about to open a shell in. The session id goes only in the cookie.</summary>
internal sealed record RedeemAccepted(
    [property: JsonPropertyName("containerId")] string ContainerId,
    [property: JsonPropertyName("container")] string Container,
    [property: JsonPropertyName("owner")] string Owner,
    [property: JsonPropertyName("expiresAt")] DateTimeOffset ExpiresAt);

/// <summary>A refusal, shaped like RFC 9457 problem details: one title and one sentence saying what to do.</summary>
internal sealed record RedeemRefused(
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("detail")] string Detail);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ServerMessage))]
[JsonSerializable(typeof(ClientMessage))]
[JsonSerializable(typeof(RedeemRequest))]
[JsonSerializable(typeof(RedeemAccepted))]
[JsonSerializable(typeof(RedeemRefused))]
internal sealed partial class TerminalJsonContext : JsonSerializerContext;
