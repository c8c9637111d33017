using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Testing.Gateway;

/// <summary>
/// A Discord-protocol gateway (v10, JSON, no compression) on 127.0.0.1 for tests. It follows Discord's documented
/// behaviour: Hello, Identify/Resume validation, READY with a resume_gateway_url pointing back at <see cref="ResumeUrl"/>,
/// sequence numbers with replay on Resume then RESUMED, heartbeat ACKs, the heartbeat watchdog, 120 events / 60 s
/// (close 4008), 4096-byte payloads (close 4002), identify concurrency (op 9), and the close codes of Discord's table.
/// Tests script it (<see cref="DispatchAsync(string, string, CancellationToken)"/>, <see cref="SendReconnectAsync"/>,
/// <see cref="CloseAsync"/>, <see cref="DropConnectionsAsync"/>, ...) and read what the client sent in <see cref="Received"/>.
/// </summary>
public sealed class LoopbackDiscordGateway : IAsyncDisposable
{
    /// <summary>Intent bits Discord defines (0–16, 20, 21, 24, 25); anything else gets 4013.</summary>
    public const int ValidIntentsMask = 0x1FFFF | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);

    /// <summary>GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.</summary>
    public const int PrivilegedIntentsMask = (1 << 1) | (1 << 8) | (1 << 15);

    public const string ResumePath = "/resume";

    private static readonly TimeSpan IdentifyWindow = TimeSpan.FromSeconds(5);

    private readonly object _lock = new();
    private readonly List<LoopbackGatewayFrame> _received = [];
    private readonly List<LoopbackGatewaySentFrame> _sent = [];
    private readonly List<ServerConnection> _connections = [];
    private readonly Dictionary<string, ServerSession> _sessions = [];
    private readonly List<DateTimeOffset> _identifies = [];
    private readonly TimeProvider _time;
    private WebApplication? _app;
    private ServerSession? _currentSession;
    private int _nextConnectionId;
    private int _refusedUpgrades;

    public LoopbackDiscordGateway(LoopbackDiscordGatewayOptions? options = null)
    {
        Options = options ?? new LoopbackDiscordGatewayOptions();
        _time = Options.TimeProvider;
    }

    public LoopbackDiscordGatewayOptions Options { get; }

    /// <summary>The gateway URL, e.g. ws://127.0.0.1:PORT/ (what GET /gateway/bot would return).</summary>
    public Uri Url { get; private set; } = new("ws://127.0.0.1/");

    /// <summary>The resume_gateway_url READY hands out: the same server on <see cref="ResumePath"/>.</summary>
    public Uri ResumeUrl { get; private set; } = new("ws://127.0.0.1/resume");

    /// <summary>Answer heartbeats with op 11. Set false to simulate a zombie connection.</summary>
    public bool AckHeartbeats { get; set; } = true;

    /// <summary>Answer WebSocket upgrades with HTTP 503 (the client's connect fails).</summary>
    public bool RefuseUpgrades { get; set; }

    /// <summary>When set, every new connection is closed with this code right after Hello.</summary>
    public int? CloseAfterHello { get; set; }

    /// <summary>When set, server messages go out in WebSocket frames of at most this many bytes (fragmented messages).</summary>
    public int? FragmentSize { get; set; }

    /// <summary>Answers the next <paramref name="count"/> upgrades on <paramref name="path"/> (e.g. "/resume") with HTTP 503.</summary>
    public void RefuseNextUpgrades(string path, int count)
    {
        lock (_refusalsGate)
            _pathRefusals[path] = count;
    }

    private readonly Lock _refusalsGate = new();
    private readonly Dictionary<string, int> _pathRefusals = [];

    /// <summary>Upgrades answered with 503 while <see cref="RefuseUpgrades"/> was set, or by <see cref="RefuseNextUpgrades"/>.</summary>
    public int RefusedUpgrades => Volatile.Read(ref _refusedUpgrades);

    /// <summary>The session the latest Identify created (announced once its connection takes dispatches and READY was sent), or null.</summary>
    public string? CurrentSessionId
    {
        get
        {
            lock (_lock)
                return _currentSession?.Id;
        }
    }

    /// <summary>Everything the client sent, in arrival order, with the server clock's timestamps.</summary>
    public IReadOnlyList<LoopbackGatewayFrame> Received
    {
        get
        {
            lock (_lock)
                return [.. _received];
        }
    }

    /// <summary>Frames of one opcode, in order.</summary>
    public IReadOnlyList<LoopbackGatewayFrame> ReceivedOp(int op) => [.. Received.Where(f => f.Op == op)];

    /// <summary>Everything the server wrote to a client (Hello, dispatches, Invalid Session…), in send order, with
    /// the server clock's timestamps: the place to look for what the server answered.</summary>
    public IReadOnlyList<LoopbackGatewaySentFrame> Sent
    {
        get
        {
            lock (_lock)
                return [.. _sent];
        }
    }

    /// <summary>Frames of one opcode the server sent, in order.</summary>
    public IReadOnlyList<LoopbackGatewaySentFrame> SentOp(int op) => [.. Sent.Where(f => f.Op == op)];

    public IReadOnlyList<LoopbackGatewayConnection> Connections
    {
        get
        {
            lock (_lock)
                return [.. _connections.Select(c => c.Snapshot())];
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(LoopbackDiscordGateway).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Production",
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken);
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        Url = new Uri($"ws://127.0.0.1:{port}/");
        ResumeUrl = new Uri($"ws://127.0.0.1:{port}{ResumePath}");
    }

    /// <summary>Sends a dispatch (op 0) with the next sequence number on the current session. When no connection is
    /// live, the event is kept and replayed on Resume. Returns its sequence number.</summary>
    public Task<long> DispatchAsync(string eventName, string dataJson, CancellationToken cancellationToken = default)
    {
        ServerSession session;
        lock (_lock)
            session = _currentSession ?? throw new InvalidOperationException("No session yet: the client has not identified.");
        using var check = JsonDocument.Parse(dataJson); // must be valid JSON
        return DispatchToSessionAsync(session, eventName, dataJson, cancellationToken);
    }

    public Task<long> DispatchAsync(string eventName, JsonElement data, CancellationToken cancellationToken = default) =>
        DispatchAsync(eventName, data.GetRawText(), cancellationToken);

    /// <summary>Dispatches an INTERACTION_CREATE whose <c>d</c> is <paramref name="interactionJson"/>.</summary>
    public Task<long> DispatchInteractionAsync(string interactionJson, CancellationToken cancellationToken = default) =>
        DispatchAsync("INTERACTION_CREATE", interactionJson, cancellationToken);

    /// <summary>
    /// Waits (real time) until a client has identified or resumed and its connection is live. When it returns, an event
    /// from <see cref="DispatchAsync(string, string, CancellationToken)"/> is sent on that connection at once.
    /// </summary>
    public Task WaitForSessionAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WaitUntilAsync(_ =>
        {
            lock (_lock)
                return _currentSession?.Live is { IsOpen: true, Identified: true };
        }, timeout, cancellationToken);

    /// <summary>Op 7 on every live connection.</summary>
    public Task SendReconnectAsync(CancellationToken cancellationToken = default) => SendToLiveAsync("{\"op\":7,\"d\":null}", cancellationToken);

    /// <summary>Op 9. With <paramref name="resumable"/> false the session is invalidated first, as Discord does.</summary>
    public Task SendInvalidSessionAsync(bool resumable, CancellationToken cancellationToken = default)
    {
        if (!resumable)
        {
            lock (_lock)
            {
                foreach (var c in _connections.Where(c => c.IsOpen && c.Session is not null))
                    c.Session!.Invalid = true;
            }
        }

        return SendToLiveAsync(resumable ? "{\"op\":9,\"d\":true}" : "{\"op\":9,\"d\":false}", cancellationToken);
    }

    /// <summary>Expires the current session as if it had timed out: a later Resume gets op 9 (d:false).</summary>
    public void ExpireSession()
    {
        lock (_lock)
        {
            if (_currentSession is { } session)
                session.Invalid = true;
        }
    }

    /// <summary>Op 1: asks the client for an immediate heartbeat.</summary>
    public Task RequestHeartbeatAsync(CancellationToken cancellationToken = default) => SendToLiveAsync("{\"op\":1,\"d\":null}", cancellationToken);

    /// <summary>Closes every open connection with <paramref name="code"/> (4007/4009 also invalidate the session).</summary>
    public async Task CloseAsync(int code, string? reason = null, CancellationToken cancellationToken = default)
    {
        foreach (var connection in OpenConnections())
            await CloseConnectionAsync(connection, code, reason ?? "closed by test", cancellationToken);
    }

    /// <summary>Drops every open TCP connection without a close frame.</summary>
    public Task DropConnectionsAsync(CancellationToken cancellationToken = default)
    {
        foreach (var connection in OpenConnections())
        {
            connection.MarkClosed(_time.GetUtcNow(), null, "drop");
            connection.Abort();
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits (real time) for a received frame matching <paramref name="predicate"/>.</summary>
    public async Task<LoopbackGatewayFrame> WaitForFrameAsync(Func<LoopbackGatewayFrame, bool> predicate, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        LoopbackGatewayFrame? found = null;
        await WaitUntilAsync(g => (found = g.Received.FirstOrDefault(predicate)) is not null, timeout, cancellationToken);
        return found!;
    }

    /// <summary>Waits until the n-th (1-based) frame with <paramref name="op"/> arrived.</summary>
    public async Task<LoopbackGatewayFrame> WaitForOpAsync(int op, int count = 1, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        LoopbackGatewayFrame? found = null;
        await WaitUntilAsync(g => (found = g.ReceivedOp(op).ElementAtOrDefault(count - 1)) is not null, timeout, cancellationToken);
        return found!;
    }

    /// <summary>Polls (every 5 ms of real time) until <paramref name="condition"/> holds; throws TimeoutException after
    /// <paramref name="timeout"/> (90 s by default: an upper bound that a CPU-starved test machine stays within).</summary>
    public async Task WaitUntilAsync(Func<LoopbackDiscordGateway, bool> condition, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (!condition(this))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("The loopback gateway did not reach the expected state in time.");
            await Task.Delay(5, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in OpenConnections())
            connection.Abort();
        if (_app is not null)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _app.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            await _app.DisposeAsync();
        }

        // Only now, with the app stopped and no handler left to send, do the connections' send locks go; closed
        // connections stay in the list until then because tests read their history.
        lock (_lock)
        {
            foreach (var connection in _connections)
                connection.Dispose();
        }
    }

    private List<ServerConnection> OpenConnections()
    {
        lock (_lock)
            return [.. _connections.Where(c => c.IsOpen)];
    }

    private async Task SendToLiveAsync(string json, CancellationToken cancellationToken)
    {
        foreach (var connection in OpenConnections())
            await connection.SendAsync(json, cancellationToken);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value is { Length: > 0 } p ? p : "/";
        bool refuseThis;
        lock (_refusalsGate)
        {
            refuseThis = _pathRefusals.TryGetValue(path, out var left) && left > 0;
            if (refuseThis)
                _pathRefusals[path] = left - 1;
        }
        if (RefuseUpgrades || refuseThis)
        {
            Interlocked.Increment(ref _refusedUpgrades);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var socket = await context.WebSockets.AcceptWebSocketAsync();
        var userAgent = context.Request.Headers.UserAgent.ToString();
        ServerConnection connection;
        lock (_lock)
        {
            connection = new ServerConnection(++_nextConnectionId, path, context.Request.QueryString.Value ?? string.Empty,
                userAgent.Length == 0 ? null : userAgent, _time.GetUtcNow(), socket, context, () => FragmentSize, RecordSent);
            _connections.Add(connection);
        }

        try
        {
            if (Options.RequireUserAgent && connection.UserAgent is null)
            {
                await CloseConnectionAsync(connection, 4002, "User-Agent header required", context.RequestAborted);
                await DrainAsync(connection, context.RequestAborted);
                return;
            }

            if (context.Request.Query["v"] != "10")
            {
                await CloseConnectionAsync(connection, 4012, "Invalid API version", context.RequestAborted);
                await DrainAsync(connection, context.RequestAborted);
                return;
            }

            if (context.Request.Query["encoding"] != "json")
            {
                await CloseConnectionAsync(connection, 4002, "Only encoding=json is served", context.RequestAborted);
                await DrainAsync(connection, context.RequestAborted);
                return;
            }

            // Arm the watchdog before Hello goes out: a client, or a test moving a fake clock, may act on Hello at once.
            connection.HeartbeatInterval = TimeSpan.FromMilliseconds(Options.HeartbeatIntervalMs);
            if (Options.EnforceHeartbeats && CloseAfterHello is null)
                connection.Watchdog = _time.CreateTimer(_ => OnHeartbeatMissed(connection), null, HeartbeatDeadline(connection), Timeout.InfiniteTimeSpan);

            await connection.SendAsync($"{{\"op\":10,\"d\":{{\"heartbeat_interval\":{Options.HeartbeatIntervalMs}}}}}", context.RequestAborted);
            if (CloseAfterHello is { } scripted)
            {
                await CloseConnectionAsync(connection, scripted, "scripted close", context.RequestAborted);
                await DrainAsync(connection, context.RequestAborted);
                return;
            }

            await ReceiveLoopAsync(connection, context.RequestAborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            connection.MarkClosed(_time.GetUtcNow(), null, "drop");
        }
        finally
        {
            connection.Watchdog?.Dispose();
            lock (_lock)
            {
                if (connection.Session is { } session && ReferenceEquals(session.Live, connection))
                    session.Live = null;
            }

            connection.MarkClosed(_time.GetUtcNow(), null, "drop");
        }
    }

    private TimeSpan HeartbeatDeadline(ServerConnection connection) =>
        connection.HeartbeatInterval * (1 + Options.HeartbeatGraceFraction);

    private void OnHeartbeatMissed(ServerConnection connection)
    {
        if (!connection.IsOpen)
            return;

        // Discord: "If your app fails to send a heartbeat event in time, your connection will be closed and you will
        // be forced to Resume." Close with a resumable code.
        _ = Task.Run(() => CloseConnectionAsync(connection, 4000, "Heartbeat timed out", CancellationToken.None));
    }

    private static async Task DrainAsync(ServerConnection connection, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            while (connection.Socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await connection.Socket.ReceiveAsync(buffer, timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                    break;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }

    /// <summary>
    /// A connection silent this long in real time is dropped, whatever the fake clock says, so a test whose client hangs
    /// fails fast instead of holding the suite (tests never leave a live connection idle this long).
    /// </summary>
    public static readonly TimeSpan ReadIdleTimeout = TimeSpan.FromSeconds(60);

    private async Task ReceiveLoopAsync(ServerConnection connection, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(8192);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        while (true)
        {
            buffer.ResetWrittenCount();
            ValueWebSocketReceiveResult result;
            do
            {
                idle.CancelAfter(ReadIdleTimeout);
                result = await connection.Socket.ReceiveAsync(buffer.GetMemory(4096), idle.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    var code = (int?)connection.Socket.CloseStatus;
                    if (connection.ClosedBy is null)
                    {
                        connection.MarkClosed(_time.GetUtcNow(), code, "client");
                        if (code is 1000 or 1001 && connection.Session is { } session)
                            session.Invalid = true; // Discord: closing with 1000/1001 invalidates the session
                        try
                        {
                            await connection.CloseOutputAsync(code ?? 1000, "bye", cancellationToken);
                        }
                        catch (Exception ex) when (ex is WebSocketException or InvalidOperationException or IOException)
                        {
                        }
                    }

                    return;
                }

                buffer.Advance(result.Count);
            }
            while (!result.EndOfMessage && buffer.WrittenCount <= Options.MaxPayloadBytes * 4);

            if (!connection.IsOpen)
                continue; // after our close frame: read until the client's close arrives

            await HandleFrameAsync(connection, buffer.WrittenMemory, cancellationToken);
        }
    }

    private async Task HandleFrameAsync(ServerConnection connection, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var json = Encoding.UTF8.GetString(message.Span);
        JsonDocument? document = null;
        var op = -1;
        try
        {
            document = JsonDocument.Parse(message);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("op", out var opElement)
                && opElement.TryGetInt32(out var parsed))
                op = parsed;
        }
        catch (JsonException)
        {
        }

        using var _ = document;
        lock (_lock)
            _received.Add(new LoopbackGatewayFrame(connection.Id, connection.Path, now, op, json, message.Length));

        if (message.Length > Options.MaxPayloadBytes)
        {
            await CloseConnectionAsync(connection, 4002, "Payload too large", cancellationToken);
            return;
        }

        if (connection.CountSend(now, Options.SendWindow) > Options.SendLimit)
        {
            await CloseConnectionAsync(connection, 4008, "Rate limited", cancellationToken);
            return;
        }

        if (document is null || op < 0)
        {
            await CloseConnectionAsync(connection, 4002, "Decode error", cancellationToken);
            return;
        }

        var data = document.RootElement.TryGetProperty("d", out var d) ? d : default;
        switch (op)
        {
            case 1:
                connection.Watchdog?.Change(HeartbeatDeadline(connection), Timeout.InfiniteTimeSpan);
                if (AckHeartbeats)
                    await connection.SendAsync("{\"op\":11}", cancellationToken);
                break;
            case 2:
                await IdentifyAsync(connection, data, now, cancellationToken);
                break;
            case 6:
                await ResumeAsync(connection, data, cancellationToken);
                break;
            case 3 or 4 or 8 or 31:
                if (connection.Session is null)
                    await CloseConnectionAsync(connection, 4003, "Not authenticated", cancellationToken);
                break;
            default:
                await CloseConnectionAsync(connection, 4001, "Unknown opcode", cancellationToken);
                break;
        }
    }

    private async Task IdentifyAsync(ServerConnection connection, JsonElement data, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (connection.Session is not null)
        {
            await CloseConnectionAsync(connection, 4005, "Already authenticated", cancellationToken);
            return;
        }

        if (data.ValueKind != JsonValueKind.Object)
        {
            await CloseConnectionAsync(connection, 4002, "Decode error", cancellationToken);
            return;
        }

        if (!data.TryGetProperty("token", out var token) || token.ValueKind != JsonValueKind.String || token.GetString() != Options.Token)
        {
            await CloseConnectionAsync(connection, 4004, "Authentication failed", cancellationToken);
            return;
        }

        if (!data.TryGetProperty("intents", out var intentsElement) || !intentsElement.TryGetInt32(out var intents) || intents < 0 || (intents & ~ValidIntentsMask) != 0)
        {
            await CloseConnectionAsync(connection, 4013, "Invalid intent(s)", cancellationToken);
            return;
        }

        if ((intents & PrivilegedIntentsMask & ~Options.AllowedPrivilegedIntents) != 0)
        {
            await CloseConnectionAsync(connection, 4014, "Disallowed intent(s)", cancellationToken);
            return;
        }

        if (!data.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object
            || !IsString(properties, "os") || !IsString(properties, "browser") || !IsString(properties, "device"))
        {
            await CloseConnectionAsync(connection, 4002, "Decode error: properties.os/browser/device required", cancellationToken);
            return;
        }

        ServerSession session;
        lock (_lock)
        {
            _identifies.RemoveAll(t => t + IdentifyWindow <= now);
            if (_identifies.Count >= Options.MaxConcurrency)
            {
                session = null!;
            }
            else
            {
                _identifies.Add(now);
                session = new ServerSession(Guid.NewGuid().ToString("N"), intents) { Live = connection };
                _sessions[session.Id] = session;
                connection.Session = session;
            }
        }

        if (session is null)
        {
            // Discord answers an Identify over max_concurrency with Invalid Session.
            await connection.SendAsync("{\"op\":9,\"d\":false}", cancellationToken);
            return;
        }

        var ready = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["v"] = 10,
            ["user"] = new Dictionary<string, object?> { ["id"] = Options.BotUserId, ["username"] = "dockhand", ["discriminator"] = "0", ["bot"] = true },
            ["guilds"] = Array.Empty<object>(),
            ["session_id"] = session.Id,
            ["resume_gateway_url"] = ResumeUrl.ToString().TrimEnd('/'),
            ["shard"] = new[] { 0, 1 },
            ["application"] = new Dictionary<string, object?> { ["id"] = Options.ApplicationId, ["flags"] = 0 },
        });
        // The connection takes dispatches and READY goes out before the session is announced (CurrentSessionId,
        // WaitForSessionAsync, DispatchAsync): once a test sees the session, what it dispatches is sent at once and
        // after READY, never held back in the log until a resume.
        connection.Identified = true;
        await DispatchToSessionAsync(session, "READY", ready, cancellationToken);
        lock (_lock)
            _currentSession = session;
    }

    private async Task ResumeAsync(ServerConnection connection, JsonElement data, CancellationToken cancellationToken)
    {
        if (connection.Session is not null)
        {
            await CloseConnectionAsync(connection, 4005, "Already authenticated", cancellationToken);
            return;
        }

        if (data.ValueKind != JsonValueKind.Object || !IsString(data, "session_id") || !data.TryGetProperty("seq", out var seqElement) || !seqElement.TryGetInt64(out var seq))
        {
            await CloseConnectionAsync(connection, 4002, "Decode error", cancellationToken);
            return;
        }

        if (!data.TryGetProperty("token", out var token) || token.ValueKind != JsonValueKind.String || token.GetString() != Options.Token)
        {
            await CloseConnectionAsync(connection, 4004, "Authentication failed", cancellationToken);
            return;
        }

        ServerSession? session;
        lock (_lock)
            _sessions.TryGetValue(data.GetProperty("session_id").GetString()!, out session);

        if (session is null || session.Invalid)
        {
            await connection.SendAsync("{\"op\":9,\"d\":false}", cancellationToken);
            return;
        }

        // A client that resumes has usually just closed the old connection: let that close be recorded before
        // the server drops whatever is left of it.
        ServerConnection? previous;
        lock (_lock)
            previous = session.Live;
        var waitUntil = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (previous is { IsOpen: true } && !ReferenceEquals(previous, connection) && DateTime.UtcNow < waitUntil)
            await Task.Delay(5, cancellationToken);

        await session.Lock.WaitAsync(cancellationToken);
        try
        {
            if (seq > session.Sequence)
            {
                session.Invalid = true;
                await CloseConnectionAsync(connection, 4007, "Invalid seq", cancellationToken);
                return;
            }

            lock (_lock)
            {
                if (session.Live is { IsOpen: true } old && !ReferenceEquals(old, connection))
                    old.Abort();
                session.Live = connection;
                connection.Session = session;
            }

            connection.Identified = true;
            foreach (var (eventSeq, payload) in session.Events.Where(e => e.Sequence > seq).ToList())
                await connection.SendAsync(payload, cancellationToken);
        }
        finally
        {
            session.Lock.Release();
        }

        await DispatchToSessionAsync(session, "RESUMED", "{}", cancellationToken);
    }

    private static bool IsString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String;

    private static async Task<long> DispatchToSessionAsync(ServerSession session, string eventName, string dataJson, CancellationToken cancellationToken)
    {
        await session.Lock.WaitAsync(cancellationToken);
        try
        {
            var seq = ++session.Sequence;
            var payload = $"{{\"op\":0,\"s\":{seq},\"t\":{JsonSerializer.Serialize(eventName)},\"d\":{dataJson}}}";
            session.Events.Add((seq, payload));
            if (session.Live is { IsOpen: true, Identified: true } live)
            {
                try
                {
                    await live.SendAsync(payload, cancellationToken);
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
                {
                    // kept in the log: replayed on Resume
                }
            }

            return seq;
        }
        finally
        {
            session.Lock.Release();
        }
    }

    private async Task CloseConnectionAsync(ServerConnection connection, int code, string reason, CancellationToken cancellationToken)
    {
        if (!connection.MarkClosed(_time.GetUtcNow(), code, "server"))
            return;
        if (code is 4007 or 4009 && connection.Session is { } session)
            session.Invalid = true;
        try
        {
            await connection.CloseOutputAsync(code, reason, cancellationToken);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private void RecordSent(int connectionId, string json)
    {
        var op = -1;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.TryGetProperty("op", out var opElement) && opElement.TryGetInt32(out var parsed))
                op = parsed;
        }
        catch (JsonException)
        {
        }

        lock (_lock)
            _sent.Add(new LoopbackGatewaySentFrame(connectionId, _time.GetUtcNow(), op, json));
    }

    private sealed class ServerSession(string id, int intents)
    {
        public string Id => id;

        public int Intents => intents;

        public long Sequence { get; set; }

        public List<(long Sequence, string Payload)> Events { get; } = [];

        public ServerConnection? Live { get; set; }

        public volatile bool Invalid;

        public SemaphoreSlim Lock { get; } = new(1, 1);
    }

    private sealed class ServerConnection(int id, string path, string query, string? userAgent, DateTimeOffset openedAt, WebSocket socket, HttpContext httpContext, Func<int?> fragmentSize, Action<int, string> recordSent) : IDisposable
    {
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly List<DateTimeOffset> _sends = [];
        private readonly object _stateLock = new();
        private DateTimeOffset? _closedAt;
        private int? _closeCode;
        private string? _closedBy;

        public int Id => id;

        public string Path => path;

        public string? UserAgent => userAgent;

        public WebSocket Socket => socket;

        public HttpContext HttpContext => httpContext;

        public ServerSession? Session { get; set; }

        public volatile bool Identified;

        public TimeSpan HeartbeatInterval { get; set; }

        public ITimer? Watchdog { get; set; }

        public string? ClosedBy
        {
            get
            {
                lock (_stateLock)
                    return _closedBy;
            }
        }

        public bool IsOpen => ClosedBy is null;

        /// <summary>Marks the connection closed once; false when it already was.</summary>
        public bool MarkClosed(DateTimeOffset at, int? code, string by)
        {
            lock (_stateLock)
            {
                if (_closedBy is not null)
                    return false;
                _closedAt = at;
                _closeCode = code;
                _closedBy = by;
                return true;
            }
        }

        public int CountSend(DateTimeOffset now, TimeSpan window)
        {
            lock (_stateLock)
            {
                _sends.Add(now);
                _sends.RemoveAll(t => t + window <= now);
                return _sends.Count;
            }
        }

        public async Task SendAsync(string json, CancellationToken cancellationToken)
        {
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                if (socket.State != WebSocketState.Open)
                    return;
                var bytes = Encoding.UTF8.GetBytes(json);
                var size = fragmentSize() is > 0 and var f ? f : bytes.Length;
                for (var offset = 0; offset < bytes.Length || offset == 0; offset += size)
                {
                    var count = Math.Min(size, bytes.Length - offset);
                    await socket.SendAsync(bytes.AsMemory(offset, count), WebSocketMessageType.Text, endOfMessage: offset + count >= bytes.Length, cancellationToken);
                    if (count == 0)
                        break;
                }

                recordSent(id, json);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public async Task CloseOutputAsync(int code, string reason, CancellationToken cancellationToken)
        {
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    await socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, cancellationToken);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public void Dispose() => _sendLock.Dispose();

        public void Abort()
        {
            try
            {
                httpContext.Abort();
            }
            catch (ObjectDisposedException)
            {
                // the request already ended
            }
        }

        public LoopbackGatewayConnection Snapshot()
        {
            lock (_stateLock)
                return new LoopbackGatewayConnection(id, path, query, userAgent, openedAt, _closedAt, _closeCode, _closedBy, Session?.Id);
        }
    }
}
