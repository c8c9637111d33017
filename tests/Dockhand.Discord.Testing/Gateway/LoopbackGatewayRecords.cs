namespace Dockhand.Discord.Testing.Gateway;

/// <summary>One message the client sent, as received. <see cref="Op"/> is -1 when it was not JSON with an op.</summary>
public sealed record LoopbackGatewayFrame(int ConnectionId, string Path, DateTimeOffset ReceivedAt, int Op, string Json, int Bytes);

/// <summary>One WebSocket connection the server accepted (or refused).</summary>
public sealed record LoopbackGatewayConnection(
    int Id,
    string Path,
    string Query,
    string? UserAgent,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    int? CloseCode,
    string? ClosedBy,
    string? SessionId);
