using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Dockhand.Containers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>The live terminal sessions, in memory. A session id is 256 random bits, sent only as the HttpOnly cookie.</summary>
internal sealed class TerminalSessions(IContainerRuntime runtime, IOptions<TerminalOptions> options, TimeProvider time, ILogger<TerminalSessions> logger, TerminalMetrics? metrics = null) : IHostedService
{
    private readonly ConcurrentDictionary<string, TerminalSession> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _createGate = new();
    private long _sequence;

    public int Count => _sessions.Count;

    /// <summary>
    /// Creates a session. An owner may hold <see cref="TerminalOptions.MaxSessionsPerOwner"/> live sessions: the oldest
    /// beyond that is ended, and its page is told it was replaced.
    /// </summary>
    public TerminalSession Create(OwnerId owner, string containerId, string containerName, DateTimeOffset expiresAt)
    {
        var id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var max = options.Value.MaxSessionsPerOwner;
        TerminalSession session;
        List<TerminalSession> replaced;
        // One lock around count-and-add, so two simultaneous redeems cannot both stay under the cap.
        lock (_createGate)
        {
            var live = _sessions.Values.Where(s => s.Owner == owner && s.EndReason is null).OrderBy(s => s.Sequence).ToList();
            replaced = live.Count >= max ? live[..(live.Count - max + 1)] : [];
            session = new TerminalSession(id, ++_sequence, owner, containerId, containerName, expiresAt, runtime, options.Value, time, logger,
                ended => _sessions.TryRemove(ended.Id, out _), metrics);
            _sessions[id] = session;
            // EndAsync only marks the session ended and yields (the closing runs later), so it is cheap under the lock,
            // and the next Create already sees these as ended.
            foreach (var old in replaced)
                _ = old.EndAsync(TerminalEndReasons.Replaced(max));
        }
        Log.SessionOpened(logger, owner.ToString(), containerId);
        foreach (var old in replaced)
            Log.SessionReplaced(logger, old.ContainerId, max);
        return session;
    }

    public TerminalSession? Find(string? id)
        => id is { Length: 43 } && _sessions.TryGetValue(id, out var session) && session.EndReason is null ? session : null;

    public IReadOnlyCollection<TerminalSession> All => [.. _sessions.Values];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        metrics?.ObserveSessions(() => _sessions.Values.Count(s => s.EndReason is null));
        return Task.CompletedTask;
    }

    /// <summary>On shutdown every session ends, so no exec outlives Dockhand.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
        => Task.WhenAll(_sessions.Values.Select(s => s.EndAsync(TerminalEndReasons.ShuttingDown)))
            .WaitAsync(cancellationToken);
}
