using Dockhand.Containers.Culling;

namespace Dockhand.Terminal;

/// <summary>
/// Tells idle culling which containers have a terminal open: a live session in this process (one in its re-attach
/// grace period counts: its page may come back within seconds), or one another process on the database marks alive.
/// </summary>
internal sealed class TerminalActivity(TerminalSessions sessions, TerminalSessionStore store) : IContainerActivity
{
    public async ValueTask<IReadOnlySet<string>> ContainersInUseAsync(CancellationToken cancellationToken = default)
    {
        var inUse = await store.OpenElsewhereAsync(cancellationToken);
        inUse.UnionWith(sessions.All.Where(s => s.EndReason is null).Select(s => s.ContainerId));
        return inUse;
    }
}
