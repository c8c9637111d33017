namespace Dockhand.Discord.Testing.Gateway;

/// <summary>One message the client sent, as received. <see cref="Op"/> is -1 when it was not JSON with an op.</summary>
public sealed record LoopbackGatewayFrame(int ConnectionId, string Path, DateTimeOffset ReceivedAt, int Op, string Json, int Bytes);

/// <summary>One message the server wrote to the client on connection <see cref="ConnectionId"/>. <see cref="Op"/> is -1 when it had none.</summary>
public sealed record LoopbackGatewaySentFrame(int ConnectionId, DateTimeOffset SentAt, int Op, string Json);

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
