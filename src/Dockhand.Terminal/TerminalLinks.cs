using Dockhand.Containers;

namespace Dockhand.Terminal;

/// <summary>A one-time link to a container's terminal. <see cref="Url"/> holds the only copy of the token.</summary>
public sealed record TerminalLink(Uri Url, DateTimeOffset ExpiresAt);

/// <summary>Issues and consumes one-time terminal tokens (256-bit, SHA-256 at rest, single-use, expiring, owner-bound).</summary>
public sealed class TerminalLinks
{
    // CONTRACT ONLY (skeleton): the web-terminal work fills this in. The bot and the CLI call IssueAsync.
    public Task<TerminalLink> IssueAsync(OwnerId owner, string containerId, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();
}
