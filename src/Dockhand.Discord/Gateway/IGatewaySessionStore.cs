namespace Dockhand.Discord.Gateway;

/// <summary>
/// Where a gateway session can be resumed from: READY's <c>session_id</c> and <c>resume_gateway_url</c>, and a
/// sequence number. Resuming with <see cref="Sequence"/> makes Discord replay every dispatch after it.
/// </summary>
public sealed record GatewaySessionCheckpoint(string SessionId, Uri? ResumeUrl, long Sequence);

/// <summary>
/// Keeps a <see cref="GatewaySessionCheckpoint"/> where another process can read it, so that the process that holds the
/// gateway next resumes this session instead of identifying anew, and Discord replays what the last holder may not
/// have answered. The client saves one at READY, then about once a second a sequence that lags the newest by
/// <see cref="DiscordGatewayClient.CheckpointLag"/> (Discord's 3 s to answer an interaction): every dispatch at or
/// before a saved sequence has been answered or can no longer be. Dispatches after it may be replayed to the next holder
/// although this one handled them: the consumer must tell repeats (interaction ids) apart.
/// </summary>
public interface IGatewaySessionStore
{
    /// <summary>The last checkpoint saved, or null when none.</summary>
    Task<GatewaySessionCheckpoint?> LoadAsync(CancellationToken cancellationToken = default);

    Task SaveAsync(GatewaySessionCheckpoint checkpoint, CancellationToken cancellationToken = default);
}
