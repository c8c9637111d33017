namespace Dockhand.Discord.Interactions;

/// <summary>
/// Remembers the ids of interactions already taken, so a repeat (the same signed body posted again inside the 5-minute
/// signature window, or a dispatch seen twice) is never handled twice. An id is kept for the token's 15-minute life;
/// memory stays bounded at <see cref="Capacity"/> ids (the oldest go first).
/// </summary>
internal sealed class InteractionReplayGuard(TimeProvider time)
{
    public const int Capacity = 50_000;
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(15);

    private readonly Lock _gate = new();
    private readonly HashSet<Snowflake> _seen = [];
    private readonly Queue<(Snowflake Id, long SeenAt)> _order = new();

    /// <summary>Ids currently remembered (for tests: must stay bounded).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _seen.Count;
        }
    }

    /// <summary>True the first time an id is seen (within its lifetime); false for a repeat.</summary>
    public bool TryTake(Snowflake interactionId)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            while (_order.Count > 0 && (_order.Count >= Capacity || time.GetElapsedTime(_order.Peek().SeenAt, now) >= Lifetime))
                _seen.Remove(_order.Dequeue().Id);
            if (!_seen.Add(interactionId))
                return false;
            _order.Enqueue((interactionId, now));
            return true;
        }
    }
}
