using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Docker.DotNet;
using Dockhand.Containers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>The live terminal sessions, in memory. A session id is 256 random bits, sent only as the HttpOnly cookie.</summary>
internal sealed class TerminalSessions(IDockerClient docker, IOptions<TerminalOptions> options, TimeProvider time, ILogger<TerminalSessions> logger) : IHostedService
{
    private readonly ConcurrentDictionary<string, TerminalSession> _sessions = new(StringComparer.Ordinal);
    private readonly TerminalExec _exec = new(docker, logger);

    public int Count => _sessions.Count;

    public TerminalSession Create(OwnerId owner, string containerId, DateTimeOffset expiresAt)
    {
        var id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var session = new TerminalSession(id, owner, containerId, expiresAt, _exec, options.Value, time, logger, ended => _sessions.TryRemove(ended.Id, out _));
        _sessions[id] = session;
        Log.SessionOpened(logger, owner.ToString(), containerId);
        return session;
    }

    public TerminalSession? Find(string? id)
        => id is { Length: 43 } && _sessions.TryGetValue(id, out var session) && session.EndReason is null ? session : null;

    public IReadOnlyCollection<TerminalSession> All => [.. _sessions.Values];

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>On shutdown every session ends, so no exec outlives Dockhand.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
        => Task.WhenAll(_sessions.Values.Select(s => s.EndAsync("Dockhand is shutting down. Run /terminal again once it is back.")))
            .WaitAsync(cancellationToken);
}
