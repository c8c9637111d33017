namespace Dockhand.Discord.Gateway;

/// <summary>
/// "May I hold the gateway now?" for processes that share one bot token: Discord delivers each dispatch to one
/// connection, so only one process at a time may hold it. The host implements it (for example with a database lock);
/// without one registered, this process always may.
/// </summary>
public interface IGatewayLeadership
{
    /// <summary>
    /// Completes when this process may hold the gateway. The token it returns is cancelled when it may no longer (the
    /// gateway client then leaves its session resumable, so that the next holder can resume it).
    /// </summary>
    Task<CancellationToken> WaitForTurnAsync(CancellationToken cancellationToken = default);
}
