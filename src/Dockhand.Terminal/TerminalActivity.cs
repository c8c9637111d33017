using Dockhand.Containers.Culling;

namespace Dockhand.Terminal;

/// <summary>
/// Tells idle culling which containers have a terminal open: a live session in this process (one in its re-attach
/// grace period counts: its page may come back within seconds), or one another process on the database marks alive.
/// </summary>
internal sealed class TerminalActivity(TerminalSessions sessions, TerminalSessionStore store) : IContainerActivity
{
    public async ValueTask<bool> HasAttachedSessionAsync(string containerId, CancellationToken cancellationToken = default)
        => sessions.All.Any(s => s.EndReason is null && string.Equals(s.ContainerId, containerId, StringComparison.Ordinal))
            || await store.OpenElsewhereAsync(containerId, cancellationToken);
}
