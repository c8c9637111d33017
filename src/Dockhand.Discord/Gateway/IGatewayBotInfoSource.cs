namespace Dockhand.Discord.Gateway;

/// <summary>What GET /gateway/bot answers: where to connect and how fast identifies may go.</summary>
public sealed record GatewayBotInfo(Uri Url, int Shards, int MaxConcurrency, int RemainingSessionStarts, TimeSpan ResetAfter);

/// <summary>Supplies <see cref="GatewayBotInfo"/>; the REST client implements it with GET /gateway/bot.</summary>
public interface IGatewayBotInfoSource
{
    Task<GatewayBotInfo> GetGatewayBotInfoAsync(CancellationToken cancellationToken = default);
}
