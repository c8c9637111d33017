using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Dockhand.Containers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>
/// This process's terminal sessions, in memory, each also recorded in <see cref="TerminalSessionStore"/> so that other
/// processes on the database see it. A session id is 256 random bits, sent only as the HttpOnly cookie.
/// </summary>
internal sealed class TerminalSessions(IContainerRuntime runtime, TerminalSessionStore store, IOptions<TerminalOptions> options, TimeProvider time,
    ILogger<TerminalSessions> logger, TerminalMetrics? metrics = null) : IHostedService
{
    /// <summary>Shown in the terminal when a page's session was carried on by another process: its shell did not come along.</summary>
    public const string ReopenedNotice = "This is a new shell: the Dockhand process that ran your previous one no longer serves this page, so that shell and its output are gone.";

    private readonly ConcurrentDictionary<string, TerminalSession> _sessions = new(StringComparer.Ordinal);
    // Ended here, row not yet deleted: a page reconnecting in that moment must not reopen a session that ended for good.
    private readonly ConcurrentDictionary<string, byte> _forgetting = new(StringComparer.Ordinal);
    private readonly Lock _createGate = new();
    private long _sequence;

    public int Count => _sessions.Count;

    /// <summary>
    /// Opens a session for a redeemed link: recorded in the database first (so a failure there opens nothing), then
    /// live here. An owner may hold <see cref="TerminalOptions.MaxSessionsPerOwner"/> live sessions over every Dockhand
    /// process on the database: the oldest beyond that is ended (here at once; in another process at its next heartbeat),
    /// and its page is told it was replaced.
    /// </summary>
    public async Task<TerminalSession> OpenAsync(OwnerId owner, string containerId, string containerName, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        var id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var openedAt = time.GetUtcNow();
        await store.AddAsync(id, new StoredSession(owner, containerId, containerName, expiresAt), openedAt, cancellationToken);
        var elsewhere = await store.LiveElsewhereAsync(owner, cancellationToken);
        var session = Add(id, owner, containerId, containerName, expiresAt, openedAt, notice: null, elsewhere, out var replacedElsewhere);
        Log.SessionOpened(logger, owner.ToString(), containerId);
        if (replacedElsewhere.Count > 0)
        {
            await store.RemoveElsewhereAsync(replacedElsewhere, cancellationToken);
            Log.SessionsReplacedElsewhere(logger, owner.ToString(), replacedElsewhere.Count, options.Value.MaxSessionsPerOwner);
        }
        return session;
    }

    /// <summary>
    /// A page whose cookie this process does not know: when the database holds that session for this container (its
    /// holder died, restarted, or is another process the page no longer reaches), this process takes it over and starts
    /// a new shell, and the page is told so (<see cref="ReopenedNotice"/>). Null when there is nothing to carry on: no such
    /// session, an expired cookie, or a container that no longer runs for that owner.
    /// </summary>
    public async Task<TerminalSession?> ReopenAsync(string? id, string containerId, CancellationToken cancellationToken = default)
    {
        if (id is not { Length: 43 } || _sessions.ContainsKey(id) || _forgetting.ContainsKey(id)
            || await store.TakeOverAsync(id, containerId, cancellationToken) is not { } stored)
            return null;
        var container = await runtime.InspectAsync(containerId, cancellationToken);
        if (container.Presence() != ContainerPresence.Running || container!.OwnerLabel is { } label && label != stored.Owner.ToString())
        {
            await store.RemoveAsync(id, cancellationToken);
            return null;
        }
        // A takeover moves a session between processes: the owner's count over all of them does not change.
        var session = Add(id, stored.Owner, containerId, stored.ContainerName, stored.ExpiresAt, time.GetUtcNow(), ReopenedNotice, [], out _);
        Log.SessionReopened(logger, stored.Owner.ToString(), containerId);
        return session;
    }

    private TerminalSession Add(string id, OwnerId owner, string containerId, string containerName, DateTimeOffset expiresAt, DateTimeOffset openedAt,
        string? notice, IReadOnlyList<SessionElsewhere> elsewhere, out List<string> replacedElsewhere)
    {
        var max = options.Value.MaxSessionsPerOwner;
        TerminalSession session;
        List<TerminalSession> replaced;
        // One lock around count-and-add, so two simultaneous redeems cannot both stay under the cap.
        lock (_createGate)
        {
            // Two sockets of one page reopening at once: the second joins the first's new shell.
            if (_sessions.TryGetValue(id, out var existing) && existing.EndReason is null)
            {
                replacedElsewhere = [];
                return existing;
            }
            // The owner's sessions here and in other processes, oldest first; every process orders them the same way
            // (opening time, as recorded), so two processes opening at once end the same ones.
            var live = _sessions.Values.Where(s => s.Owner == owner && s.EndReason is null)
                .Select(s => (s.OpenedAt, Order: 1, s.Sequence, Local: (TerminalSession?)s, Hash: (string?)null))
                .Concat(elsewhere.Select(e => (e.OpenedAt, Order: 0, Sequence: 0L, Local: (TerminalSession?)null, Hash: (string?)e.Hash)))
                .OrderBy(s => s.OpenedAt).ThenBy(s => s.Order).ThenBy(s => s.Sequence).ToList();
            var over = live.Count >= max ? live[..(live.Count - max + 1)] : [];
            replaced = [.. over.Where(s => s.Local is not null).Select(s => s.Local!)];
            replacedElsewhere = [.. over.Where(s => s.Hash is not null).Select(s => s.Hash!)];
            session = new TerminalSession(id, ++_sequence, owner, containerId, containerName, expiresAt, openedAt, runtime, options.Value, time, logger, OnEnded, metrics, notice);
            _sessions[id] = session;
            // EndAsync only marks the session ended and yields (the closing runs later), so it is cheap under the lock,
            // and the next Create already sees these as ended.
            foreach (var old in replaced)
                _ = old.EndAsync(TerminalEndReasons.Replaced(max));
        }
        foreach (var old in replaced)
            Log.SessionReplaced(logger, old.ContainerId, max);
        return session;
    }

    private void OnEnded(TerminalSession ended)
    {
        // A session ended by shutdown stays in the database (ReleaseAllAsync), so its page can get a new shell elsewhere.
        if (ended.EndReason != TerminalEndReasons.ShuttingDown)
        {
            _forgetting[ended.Id] = 0;
            _ = ForgetAsync(ended.Id);
        }
        _sessions.TryRemove(new KeyValuePair<string, TerminalSession>(ended.Id, ended));
    }

    private async Task ForgetAsync(string id)
    {
        try
        {
            await store.RemoveAsync(id);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException)
        {
            // The row expires with the cookie; until then another process could reopen it, which is what a reload does anyway.
            Log.SessionStoreFailed(logger, e);
        }
        finally
        {
            _forgetting.TryRemove(id, out _);
        }
    }

    public TerminalSession? Find(string? id)
        => id is { Length: 43 } && _sessions.TryGetValue(id, out var session) && session.EndReason is null ? session : null;

    public IReadOnlyCollection<TerminalSession> All => [.. _sessions.Values];

    /// <summary>Marks this process's live sessions alive in the database and ends those another process took over or replaced.</summary>
    public async Task HeartbeatAsync(CancellationToken cancellationToken = default)
    {
        // An expired session is ended by its own timer, and the sweeper may already have deleted its row: not "moved".
        var now = time.GetUtcNow();
        var live = _sessions.Values.Where(s => s.EndReason is null && s.ExpiresAt > now).Select(s => s.Id).ToList();
        var gone = await store.HeartbeatAsync(live, cancellationToken);
        foreach (var moved in gone.Moved)
        {
            if (Find(moved) is { } session)
            {
                Log.SessionMoved(logger, session.ContainerId);
                _ = session.EndAsync(TerminalEndReasons.OpenedElsewhere);
            }
        }
        var max = options.Value.MaxSessionsPerOwner;
        foreach (var replaced in gone.Replaced)
        {
            if (Find(replaced) is { } session)
            {
                Log.SessionReplaced(logger, session.ContainerId, max);
                _ = session.EndAsync(TerminalEndReasons.Replaced(max));
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        metrics?.ObserveSessions(() => _sessions.Values.Count(s => s.EndReason is null));
        return Task.CompletedTask;
    }

    /// <summary>On shutdown every session ends, so no exec outlives Dockhand; their rows stay for a reload elsewhere.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_sessions.Values.Select(s => s.EndAsync(TerminalEndReasons.ShuttingDown))).WaitAsync(cancellationToken);
        try
        {
            await store.ReleaseAllAsync(cancellationToken);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException)
        {
            Log.SessionStoreFailed(logger, e);
        }
    }
}

/// <summary>Runs <see cref="TerminalSessions.HeartbeatAsync"/> every <see cref="TerminalSessionStore.HeartbeatPeriod"/> (timed by the injected TimeProvider).</summary>
internal sealed class TerminalSessionHeartbeat(TerminalSessions sessions, TimeProvider time, ILogger<TerminalSessionHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TerminalSessionStore.HeartbeatPeriod, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await sessions.HeartbeatAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.SessionStoreFailed(logger, e);
            }
        }
    }
}
