using System.Globalization;
using System.Security.Cryptography;
using Dockhand.Containers;
using Dockhand.Containers.Storage;

namespace Dockhand.Terminal;

/// <summary>A session row another process may take over: whose it is and until when its cookie is good.</summary>
internal sealed record StoredSession(OwnerId Owner, string ContainerId, string ContainerName, DateTimeOffset ExpiresAt);

/// <summary>A live session another process holds, as the per-owner cap sees it: the SHA-256 of its cookie and when its shell opened.</summary>
internal sealed record SessionElsewhere(string Hash, DateTimeOffset OpenedAt);

/// <summary>What a heartbeat found about sessions this process no longer holds.</summary>
/// <param name="Moved">Taken over by another process (a page that reached it).</param>
/// <param name="Replaced">Gone: another process ended them for the per-owner cap.</param>
internal sealed record HeartbeatResult(IReadOnlyList<string> Moved, IReadOnlyList<string> Replaced)
{
    public static readonly HeartbeatResult None = new([], []);
}

/// <summary>
/// The <c>terminal_sessions</c> table: every live session of every Dockhand process on the database, by the SHA-256 of
/// its cookie. The process that runs a session's shell is its holder and marks it alive every <see cref="HeartbeatPeriod"/>;
/// so idle culling in another process sees a terminal open there, a page that reaches another process (a restart, a
/// load balancer, the holder's death) can get a new shell there, and the old holder learns its session moved.
/// </summary>
internal sealed class TerminalSessionStore(DockhandDatabase database, TimeProvider time)
{
    /// <summary>How often the holder marks its sessions alive. A row counts as open for three periods after the last mark.</summary>
    public static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan AliveFor = 3 * HeartbeatPeriod;

    /// <summary>This process, as a holder: random per process, so a restarted process does not mistake its old rows for live ones.</summary>
    public string Holder { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public async Task AddAsync(string sessionId, StoredSession session, DateTimeOffset openedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO terminal_sessions (session_hash, owner_id, container_id, container_name, expires_at, holder, alive_until, opened_at)
            VALUES (@hash, @owner, @container, @name, @expires, @holder, @alive, @opened)
            """;
        command.AddParameter("@hash", TerminalLinks.Hash(sessionId));
        command.AddParameter("@owner", session.Owner.ToString());
        command.AddParameter("@container", session.ContainerId);
        command.AddParameter("@name", session.ContainerName);
        command.AddParameter("@expires", TerminalLinks.Format(session.ExpiresAt));
        command.AddParameter("@holder", Holder);
        command.AddParameter("@alive", TerminalLinks.Format(openedAt + AliveFor));
        command.AddParameter("@opened", TerminalLinks.Format(openedAt));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Marks <paramref name="sessionIds"/> alive and returns those this process no longer holds, so that their shells here
    /// end: moved (another process took the row over) or replaced (another process deleted the row for the per-owner cap).
    /// </summary>
    public async Task<HeartbeatResult> HeartbeatAsync(IReadOnlyCollection<string> sessionIds, CancellationToken cancellationToken = default)
    {
        if (sessionIds.Count == 0)
            return HeartbeatResult.None;
        var byHash = sessionIds.ToDictionary(TerminalLinks.Hash, id => id, StringComparer.Ordinal);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = $"UPDATE terminal_sessions SET alive_until = @alive WHERE holder = @holder AND session_hash IN ({AddHashes(command, byHash.Keys)}) RETURNING session_hash";
            command.AddParameter("@alive", TerminalLinks.Format(time.GetUtcNow() + AliveFor));
            command.AddParameter("@holder", Holder);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                byHash.Remove(reader.GetString(0));
        }
        if (byHash.Count == 0)
            return HeartbeatResult.None;
        var moved = new List<string>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT session_hash FROM terminal_sessions WHERE session_hash IN ({AddHashes(command, byHash.Keys)})";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (byHash.Remove(reader.GetString(0), out var id))
                    moved.Add(id);
            }
        }
        return new HeartbeatResult(moved, [.. byHash.Values]);
    }

    /// <summary>
    /// <paramref name="owner"/>'s live sessions held by other processes (marked alive lately, cookie unexpired), oldest
    /// first: with this process's own, what the per-owner cap counts.
    /// </summary>
    public async Task<IReadOnlyList<SessionElsewhere>> LiveElsewhereAsync(OwnerId owner, CancellationToken cancellationToken = default)
    {
        var now = TerminalLinks.Format(time.GetUtcNow());
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT session_hash, opened_at FROM terminal_sessions
            WHERE owner_id = @owner AND holder <> @holder AND alive_until > @now AND expires_at > @now
            ORDER BY opened_at, session_hash
            """;
        command.AddParameter("@owner", owner.ToString());
        command.AddParameter("@holder", Holder);
        command.AddParameter("@now", now);
        var sessions = new List<SessionElsewhere>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var opened = reader.GetString(1);
            sessions.Add(new SessionElsewhere(reader.GetString(0), opened.Length == 0 ? DateTimeOffset.MinValue : TerminalLinks.Parse(opened)));
        }
        return sessions;
    }

    /// <summary>
    /// Ends sessions another process holds, for the per-owner cap: their rows go, and each holder ends its shell at its
    /// next heartbeat (within <see cref="HeartbeatPeriod"/>), telling the page it was replaced.
    /// </summary>
    public async Task RemoveElsewhereAsync(IReadOnlyCollection<string> hashes, CancellationToken cancellationToken = default)
    {
        if (hashes.Count == 0)
            return;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"DELETE FROM terminal_sessions WHERE holder <> @holder AND session_hash IN ({AddHashes(command, hashes)})";
        command.AddParameter("@holder", Holder);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string AddHashes(System.Data.Common.DbCommand command, IEnumerable<string> hashes)
    {
        var names = new List<string>();
        foreach (var hash in hashes)
        {
            var name = "@h" + names.Count.ToString(CultureInfo.InvariantCulture);
            names.Add(name);
            command.AddParameter(name, hash);
        }
        return string.Join(", ", names);
    }

    /// <summary>
    /// Makes this process the holder of the session behind <paramref name="sessionId"/> when it is for
    /// <paramref name="containerId"/> and its cookie has not expired; null otherwise. The previous holder ends its shell
    /// at its next heartbeat.
    /// </summary>
    public async Task<StoredSession?> TakeOverAsync(string sessionId, string containerId, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE terminal_sessions SET holder = @holder, alive_until = @alive, opened_at = @now
            WHERE session_hash = @hash AND container_id = @container AND expires_at > @now
            RETURNING owner_id, container_name, expires_at
            """;
        command.AddParameter("@holder", Holder);
        command.AddParameter("@alive", TerminalLinks.Format(now + AliveFor));
        command.AddParameter("@hash", TerminalLinks.Hash(sessionId));
        command.AddParameter("@container", containerId);
        command.AddParameter("@now", TerminalLinks.Format(now));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken) || !OwnerId.TryParse(reader.GetString(0), out var owner))
            return null;
        return new StoredSession(owner, containerId, reader.GetString(1), TerminalLinks.Parse(reader.GetString(2)));
    }

    /// <summary>Forgets a session that ended for good (its shell exited, its cookie expired, it was replaced…), if this process still holds it.</summary>
    public async Task RemoveAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM terminal_sessions WHERE session_hash = @hash AND holder = @holder";
        command.AddParameter("@hash", TerminalLinks.Hash(sessionId));
        command.AddParameter("@holder", Holder);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// On shutdown: this process's sessions stop counting as open, but their rows stay until their cookies expire, so a
    /// page reloaded on another process (or this one, restarted) gets a new shell.
    /// </summary>
    public async Task ReleaseAllAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE terminal_sessions SET alive_until = @now WHERE holder = @holder";
        command.AddParameter("@now", TerminalLinks.Format(time.GetUtcNow()));
        command.AddParameter("@holder", Holder);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The containers on which a process other than this one holds a live session.</summary>
    public async Task<HashSet<string>> OpenElsewhereAsync(CancellationToken cancellationToken = default)
    {
        var now = TerminalLinks.Format(time.GetUtcNow());
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT container_id FROM terminal_sessions WHERE holder <> @holder AND alive_until > @now AND expires_at > @now";
        command.AddParameter("@holder", Holder);
        command.AddParameter("@now", now);
        var containers = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            containers.Add(reader.GetString(0));
        return containers;
    }

    /// <summary>Deletes the rows of sessions whose cookies have expired. Returns how many went.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM terminal_sessions WHERE expires_at <= @now";
        command.AddParameter("@now", TerminalLinks.Format(time.GetUtcNow()));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
