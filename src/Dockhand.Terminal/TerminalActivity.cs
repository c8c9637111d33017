using Dockhand.Containers.Culling;

namespace Dockhand.Terminal;

/// <summary>
/// Tells idle culling which containers have a terminal attached, from the live sessions. A session in its re-attach
/// grace period still counts: its page may come back within seconds.
/// </summary>
internal sealed class TerminalActivity(TerminalSessions sessions) : IContainerActivity
{
    public bool HasAttachedSession(string containerId)
        => sessions.All.Any(s => s.EndReason is null && string.Equals(s.ContainerId, containerId, StringComparison.Ordinal));
}
