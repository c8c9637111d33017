namespace Dockhand.Discord.Interactions;

/// <summary>
/// A record of the interactions taken, shared by every process that may receive them, so that a dispatch replayed to
/// another process after a takeover is not answered twice. Without one, a process remembers only its own
/// (<see cref="InteractionReplayGuard"/>).
/// </summary>
public interface IInteractionClaims
{
    /// <summary>
    /// True when this process may handle <paramref name="interactionId"/>: nobody took it yet, or another process took
    /// it and never answered (it died before its callback). False when it was answered, or this process already has it.
    /// </summary>
    Task<bool> TryClaimAsync(Snowflake interactionId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that <paramref name="interactionId"/> needs no more answering: its initial response was accepted, or
    /// Discord refused it as too late (it then takes none).
    /// </summary>
    Task MarkAnsweredAsync(Snowflake interactionId, CancellationToken cancellationToken = default);
}
