using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Dockhand.Discord.Gateway.JsonModels;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Gateway;

/// <summary>
/// Discord gateway v10 client (JSON, no compression, one shard). <see cref="RunAsync"/> connects, identifies or resumes,
/// heartbeats, and reconnects until cancelled or until a fatal close code (<see cref="GatewayFatalException"/>).
/// Every dispatch (op 0) goes, in order, to <see cref="IGatewayDispatchHandler"/>. The parts: one
/// <see cref="GatewayConnection"/> per WebSocket, the <see cref="GatewaySender"/> (queue, send limit, Identify limits)
/// and the <see cref="GatewaySession"/> that outlives connections; this type supervises them and reads the opcodes.
/// </summary>
public sealed class DiscordGatewayClient
{
    /// <summary>Close code the client uses when it leaves to resume: anything but 1000/1001 keeps the session alive.</summary>
    private const WebSocketCloseStatus ResumableCloseStatus = (WebSocketCloseStatus)4000;

    /// <summary>How long one WebSocket connect (TCP, TLS and the upgrade) may take.</summary>
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the close frame may wait for a write in progress (a heartbeat, a command) to finish.</summary>
    internal static readonly TimeSpan CloseSendWait = TimeSpan.FromSeconds(2);

    /// <summary>How long, after our close frame, the server has to answer with its own before the socket is aborted.</summary>
    internal static readonly TimeSpan CloseHandshakeGrace = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How far a saved checkpoint lags the newest dispatch: Discord's 3 s to answer an interaction. A dispatch older
    /// than that has been answered or never can be, so a takeover need not see it again.
    /// </summary>
    public static readonly TimeSpan CheckpointLag = TimeSpan.FromSeconds(3);

    /// <summary>How often the lagging checkpoint is saved while dispatches arrive.</summary>
    internal static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(1);

    private readonly DiscordOptions _options;
    private readonly IGatewayDispatchHandler _dispatchHandler;
    private readonly IGatewayBotInfoSource? _botInfoSource;
    private readonly DiscordApplicationIdSource? _applicationIds;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GatewayClientSettings _settings;
    private readonly RetryBackoff _backoff;
    private readonly GatewaySender _sender;
    private readonly GatewaySession _session = new();
    private readonly DiscordMetrics? _metrics;
    private readonly IGatewaySessionStore? _sessionStore;
    private readonly Queue<(long Sequence, long ReceivedAt)> _recentSequences = new();
    private readonly Lock _recentGate = new();
    private GatewaySessionCheckpoint? _lastSaved;

    private GatewayConnection? _current;
    private int _running;

    public DiscordGatewayClient(
        IOptions<DiscordOptions> options,
        IGatewayDispatchHandler dispatchHandler,
        ILogger<DiscordGatewayClient> logger,
        TimeProvider? timeProvider = null,
        IGatewayBotInfoSource? botInfoSource = null,
        DiscordMetrics? metrics = null,
        DiscordApplicationIdSource? applicationIds = null,
        IGatewaySessionStore? sessionStore = null)
        : this(options, dispatchHandler, logger, timeProvider ?? TimeProvider.System, botInfoSource, new GatewayClientSettings(), applicationIds, sessionStore)
    {
        _metrics = metrics;
    }

    internal DiscordGatewayClient(
        IOptions<DiscordOptions> options,
        IGatewayDispatchHandler dispatchHandler,
        ILogger logger,
        TimeProvider timeProvider,
        IGatewayBotInfoSource? botInfoSource,
        GatewayClientSettings settings,
        DiscordApplicationIdSource? applicationIds = null,
        IGatewaySessionStore? sessionStore = null)
    {
        _applicationIds = applicationIds;
        _sessionStore = sessionStore;
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _dispatchHandler = dispatchHandler;
        _logger = logger;
        _time = timeProvider;
        _botInfoSource = botInfoSource;
        _settings = settings;
        _backoff = settings.Backoff ?? RetryBackoff.Reconnect(settings.Random);
        _sender = new GatewaySender(settings, timeProvider, logger);
    }

    /// <summary>The current session's id (from READY), or null before the first READY or after the session was invalidated.</summary>
    public string? SessionId => _session.SessionId;

    /// <summary>The application id READY reported, or null before READY.</summary>
    public Snowflake? ApplicationId => _session.ApplicationId;

    /// <summary>The last non-null dispatch sequence number received, or null.</summary>
    public long? LastSequence => _session.LastSequence;

    /// <summary>True while a connection is open and READY or RESUMED has arrived on it.</summary>
    public bool IsConnected => Volatile.Read(ref _current) is { Established: true };

    /// <summary>
    /// Queues a gateway command (e.g. op 3 presence update, op 8 request guild members). It goes out once a session is
    /// established, within the 120 / 60 s send limit minus headroom kept for heartbeats. Completes when written.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Heartbeat, Identify and Resume: the client sends those itself.</exception>
    /// <exception cref="ArgumentException">The payload exceeds Discord's 4096-byte limit.</exception>
    public Task SendAsync(int opcode, JsonElement data, CancellationToken cancellationToken = default)
    {
        if (opcode is GatewayOpcodes.Heartbeat or GatewayOpcodes.Identify or GatewayOpcodes.Resume or < 0)
            throw new ArgumentOutOfRangeException(nameof(opcode), opcode, "Heartbeat, Identify and Resume are sent by the gateway client itself.");
        return _sender.EnqueueAsync(opcode, data, Volatile.Read(ref _current), cancellationToken);
    }

    /// <summary>
    /// Runs the gateway until <paramref name="cancellationToken"/> is cancelled (then closes with 1000) or Discord closes
    /// with a fatal code (throws <see cref="GatewayFatalException"/>). Reconnects and resumes by itself otherwise.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken = default) => RunAsync(cancellationToken, CancellationToken.None);

    /// <summary>
    /// As <see cref="RunAsync(CancellationToken)"/>, for a process that holds the gateway in turn with others
    /// (<see cref="IGatewayLeadership"/>): first takes the session the last holder saved (<see cref="IGatewaySessionStore"/>)
    /// and resumes it; when <paramref name="turnEnded"/> is cancelled, it leaves with a resumable close code so
    /// that the next holder can resume the session, and returns.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken, CancellationToken turnEnded)
    {
        if (_sessionStore is not null && Volatile.Read(ref _running) == 0)
        {
            if (await _sessionStore.LoadAsync(cancellationToken) is { } saved)
            {
                _session.Restore(saved);
                _lastSaved = saved;
                GatewayLog.LogSessionTaken(_logger, saved.Sequence);
            }
        }

        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, turnEnded);
        _leaveResumable = turnEnded.CanBeCanceled;
        try
        {
            await RunCoreAsync(run.Token);
        }
        catch (OperationCanceledException) when (turnEnded.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // the turn ended: the next holder resumes
        }
    }

    private volatile bool _leaveResumable;

    private async Task RunCoreAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(_options.Token))
            throw new InvalidOperationException("The Discord gateway needs a bot token: set DISCORD_TOKEN.");
        if (_options.GatewayUrl is null && _botInfoSource is null)
            throw new InvalidOperationException("No gateway URL: set DISCORD_GATEWAY_URL or register an IGatewayBotInfoSource (the REST client provides one).");
        if (Interlocked.Exchange(ref _running, 1) == 1)
            throw new InvalidOperationException("RunAsync is already running on this client.");

        var dispatch = Channel.CreateUnbounded<GatewayDispatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var dispatchLoop = DispatchLoopAsync(dispatch.Reader, runCts.Token);
        var checkpoints = _sessionStore is null ? Task.CompletedTask : CheckpointLoopAsync(runCts.Token);
        try
        {
            await SuperviseAsync(dispatch.Writer, runCts.Token);
        }
        finally
        {
            dispatch.Writer.TryComplete();
            await runCts.CancelAsync();
            try
            {
                await dispatchLoop;
            }
            catch (OperationCanceledException)
            {
            }
            await Quietly(checkpoints);

            while (dispatch.Reader.TryRead(out var left))
                left.Document.Dispose();
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task SuperviseAsync(ChannelWriter<GatewayDispatch> dispatch, CancellationToken cancellationToken)
    {
        var attempt = 1; // a failure before any healthy session is backed off
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var resume = _session.CanResume;
            Uri url;
            try
            {
                if (resume && _session.TakeResumeUrl() is { } resumeUrl)
                {
                    url = resumeUrl;
                }
                else
                {
                    url = await GetGatewayUrlAsync(cancellationToken);
                    if (!resume)
                        await _sender.WaitForIdentifySlotAsync(cancellationToken);
                }
            }
            catch (DiscordRestException ex) when (ex.BotTokenRejected)
            {
                // Discord answers 401 to GET /gateway/bot before a gateway could close with 4004: retrying cannot help.
                var fatal = new GatewayFatalException(GatewayCloseCodes.TokenRejectedMessage(ex.Route ?? "GET /gateway/bot"));
                GatewayLog.LogTokenRejected(_logger, fatal.Message);
                throw fatal;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                GatewayLog.LogGatewayInfoFailed(_logger, ex);
                await DelayAsync(_backoff.GetDelay(attempt++), cancellationToken);
                continue;
            }

            var (outcome, established) = await RunConnectionAsync(url, resume, dispatch, cancellationToken);
            if (established)
                attempt = 0;

            // What really happens next: a "resumable" close before any READY (no session yet) is a fresh Identify.
            var next = outcome.Action switch
            {
                GatewayCloseAction.Fatal => "stop",
                GatewayCloseAction.Resume when _session.CanResume => "resume",
                _ => "identify",
            };
            GatewayLog.LogDisconnected(_logger, outcome.CloseCode ?? 0, GatewayCloseCodes.Describe(outcome.CloseCode), outcome.Reason, next);
            switch (outcome.Action)
            {
                case GatewayCloseAction.Fatal:
                    var fatal = new GatewayFatalException(outcome.CloseCode ?? 0);
                    GatewayLog.LogFatal(_logger, outcome.CloseCode ?? 0, fatal.Message);
                    throw fatal;
                case GatewayCloseAction.NewSession:
                    _session.Clear();
                    break;
                case GatewayCloseAction.Resume when outcome.ConnectFailed && resume:
                    _session.SkipResumeUrlOnce();
                    break;
            }

            var delay = outcome.InvalidSessionWait ? InvalidSessionDelay() : _backoff.GetDelay(attempt);
            attempt++;
            GatewayLog.LogReconnecting(_logger, delay.TotalMilliseconds, next);
            _metrics?.Reconnect(next);
            await DelayAsync(delay, cancellationToken);
        }
    }

    private TimeSpan InvalidSessionDelay()
    {
        var min = _settings.InvalidSessionMinDelay;
        var span = _settings.InvalidSessionMaxDelay - min;
        return min + (span * Math.Clamp(_settings.Random(), 0, 1));
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        if (delay > TimeSpan.Zero)
            await Task.Delay(delay, _time, cancellationToken);
    }

    private async Task<Uri> GetGatewayUrlAsync(CancellationToken cancellationToken)
    {
        if (_options.GatewayUrl is { } configured)
        {
            if (_botInfoSource is not null)
            {
                try
                {
                    _sender.UpdateLimits(await _botInfoSource.GetGatewayBotInfoAsync(cancellationToken));
                }
                catch (Exception ex) when (ex is not DiscordRestException { BotTokenRejected: true }
                    && (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
                {
                    GatewayLog.LogGatewayInfoFailed(_logger, ex);
                }
            }

            return configured;
        }

        var info = await _botInfoSource!.GetGatewayBotInfoAsync(cancellationToken);
        _sender.UpdateLimits(info);
        return info.Url;
    }

    internal static Uri BuildConnectUri(Uri url)
    {
        var builder = new UriBuilder(url) { Query = "v=10&encoding=json" };
        builder.Scheme = builder.Scheme switch
        {
            "http" => "ws",
            "https" => "wss",
            _ => builder.Scheme,
        };
        if (string.IsNullOrEmpty(builder.Path))
            builder.Path = "/";
        return builder.Uri;
    }

    private async Task<(ConnectionOutcome Outcome, bool Established)> RunConnectionAsync(
        Uri url, bool resume, ChannelWriter<GatewayDispatch> dispatch, CancellationToken cancellationToken)
    {
        var uri = BuildConnectUri(url);
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("User-Agent", DiscordRestClient.UserAgent);
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        GatewayLog.LogConnecting(_logger, uri.GetLeftPart(UriPartial.Path), resume);
        // A stalled TCP or TLS handshake must not hang the reconnect loop: give the connect 30 s on the injected clock.
        using (var connectTimeout = new CancellationTokenSource(ConnectTimeout, _time))
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connectTimeout.Token))
        {
            try
            {
                await socket.ConnectAsync(uri, connect.Token);
            }
            catch (Exception) when (connectTimeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                GatewayLog.LogConnectTimedOut(_logger, ConnectTimeout.TotalSeconds);
                return (new ConnectionOutcome(GatewayCloseAction.Resume, "connect timed out") { ConnectFailed = true }, false);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException)
            {
                GatewayLog.LogConnectFailed(_logger, ex.Message);
                return (new ConnectionOutcome(GatewayCloseAction.Resume, "connect failed") { ConnectFailed = true }, false);
            }
        }

        // Not linked to cancellationToken: on shutdown the close frame must go out before the loops are cancelled
        // (cancelling a pending ClientWebSocket receive aborts the socket).
        using var connectionCts = new CancellationTokenSource();
        var connection = new GatewayConnection(socket, resume, connectionCts.Token);
        Volatile.Write(ref _current, connection);
        var receive = ReceiveLoopAsync(connection, dispatch, connectionCts.Token);
        var send = _sender.RunAsync(connection, connectionCts.Token);
        var helloTimeout = HelloWatchAsync(connection, connectionCts.Token);
        try
        {
            ConnectionOutcome outcome;
            try
            {
                outcome = await connection.Outcome.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutting down: 1000 ends the session on Discord's side, so the bot shows offline at once. A process that
                // holds the gateway in turn with others leaves it resumable instead: the next holder resumes it and
                // Discord replays what came in between.
                if (_leaveResumable)
                    await connection.TryCloseAsync(ResumableCloseStatus, "handing over", _time, CloseSendWait);
                else
                    await connection.TryCloseAsync(WebSocketCloseStatus.NormalClosure, "shutting down", _time, CloseSendWait);
                await AwaitCloseHandshakeAsync(receive);
                throw;
            }

            if (outcome.ClientCloses)
            {
                await connection.TryCloseAsync(ResumableCloseStatus, "reconnecting", _time, CloseSendWait);
                await AwaitCloseHandshakeAsync(receive);
            }
            else if (socket.State == WebSocketState.CloseReceived)
                await connection.TryCloseAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "closing", _time, CloseSendWait);
            return (outcome, connection.Established);
        }
        finally
        {
            Interlocked.CompareExchange(ref _current, null, connection);
            await connectionCts.CancelAsync();
            socket.Abort();
            await Quietly(receive);
            await Quietly(send);
            await Quietly(helloTimeout);
            if (connection.Heartbeat is { } heartbeat)
                await Quietly(heartbeat);
            connection.Dispose();
        }
    }

    /// <summary>
    /// After sending our close frame, give the server <see cref="CloseHandshakeGrace"/> to answer before the socket is
    /// aborted; an abort right away can reset the TCP connection and lose the close frame. The grace runs on the injected
    /// clock, not the wall clock: a server that answers late (a starved test process, where the loopback server shares
    /// the CPU) must not turn a clean 1000 into a dropped connection, and tests decide when the grace has passed.
    /// </summary>
    private async Task AwaitCloseHandshakeAsync(Task receiveLoop)
    {
        try
        {
            await receiveLoop.WaitAsync(CloseHandshakeGrace, _time);
        }
        catch (Exception)
        {
            // timed out or the loop failed: the socket is aborted next either way
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // the loops report through the connection's outcome; nothing more to do here
        }
    }

    private async Task HelloWatchAsync(GatewayConnection connection, CancellationToken cancellationToken)
    {
        await Task.Delay(_settings.HelloTimeout, _time, cancellationToken);
        if (!connection.HelloReceived)
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "no Hello") { ClientCloses = true });
    }

    private async Task ReceiveLoopAsync(GatewayConnection connection, ChannelWriter<GatewayDispatch> dispatch, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            while (true)
            {
                buffer.ResetWrittenCount();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await connection.Socket.ReceiveAsync(buffer.GetMemory(8192), cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        var code = (int?)connection.Socket.CloseStatus;
                        connection.End(new ConnectionOutcome(GatewayCloseCodes.Classify(code), "closed by the gateway") { CloseCode = code });
                        return;
                    }

                    buffer.Advance(result.Count);
                    if (buffer.WrittenCount > _settings.MaxInboundBytes)
                    {
                        connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "inbound message too large") { ClientCloses = true });
                        return;
                    }
                }
                while (!result.EndOfMessage);

                await HandleMessageAsync(connection, buffer.WrittenMemory, dispatch, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
        {
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "connection dropped"));
        }
        catch (Exception ex)
        {
            // Unreadable or unexpected payload: never leave the connection without an outcome.
            GatewayLog.LogUnreadablePayload(_logger, ex.GetType().Name);
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "unreadable payload") { ClientCloses = true });
        }
    }

    private async Task HandleMessageAsync(GatewayConnection connection, ReadOnlyMemory<byte> message, ChannelWriter<GatewayDispatch> dispatch, CancellationToken cancellationToken)
    {
        // JsonDocument keeps a reference to its input: copy, since the receive buffer is reused for the next message.
        var document = JsonDocument.Parse(message.ToArray());
        var handedOver = false;
        try
        {
            var root = document.RootElement;
            var op = root.GetProperty("op").GetInt32();
            root.TryGetProperty("d", out var data);
            switch (op)
            {
                case GatewayOpcodes.Dispatch:
                    var eventName = root.TryGetProperty("t", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : string.Empty;
                    if (root.TryGetProperty("s", out var s) && s.ValueKind == JsonValueKind.Number)
                    {
                        _session.RecordSequence(s.GetInt64());
                        if (_sessionStore is not null && eventName != "READY")
                        {
                            lock (_recentGate)
                                _recentSequences.Enqueue((s.GetInt64(), _time.GetTimestamp()));
                        }
                    }
                    if (eventName == "READY")
                    {
                        OnReady(connection, data);
                        await SaveReadyCheckpointAsync(cancellationToken);
                    }
                    else if (eventName == "RESUMED")
                        OnResumed(connection);
                    await dispatch.WriteAsync(new GatewayDispatch(eventName, document), cancellationToken);
                    handedOver = true;
                    break;
                case GatewayOpcodes.Heartbeat:
                    GatewayLog.LogHeartbeatRequested(_logger);
                    EnqueueHeartbeat(connection);
                    break;
                case GatewayOpcodes.Reconnect:
                    connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "op 7 reconnect") { ClientCloses = true });
                    break;
                case GatewayOpcodes.InvalidSession:
                    var resumable = data.ValueKind == JsonValueKind.True;
                    GatewayLog.LogInvalidSession(_logger, resumable);
                    connection.End(resumable
                        ? new ConnectionOutcome(GatewayCloseAction.Resume, "op 9 invalid session (resumable)") { ClientCloses = true }
                        : new ConnectionOutcome(GatewayCloseAction.NewSession, "op 9 invalid session") { ClientCloses = true, InvalidSessionWait = true });
                    break;
                case GatewayOpcodes.Hello:
                    OnHello(connection, data);
                    break;
                case GatewayOpcodes.HeartbeatAck:
                    connection.AwaitingAck = false;
                    break;
            }
        }
        finally
        {
            if (!handedOver)
                document.Dispose();
        }
    }

    private void OnHello(GatewayConnection connection, JsonElement data)
    {
        if (connection.HelloReceived)
            return;
        connection.HelloReceived = true;
        var hello = data.Deserialize(GatewayJsonContext.Default.JsonHello) ?? throw new JsonException("Hello without data");
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, hello.HeartbeatInterval));
        GatewayLog.LogHello(_logger, hello.HeartbeatInterval);

        // Started synchronously: its first timer exists before Identify/Resume is queued.
        connection.Heartbeat = HeartbeatLoopAsync(connection, interval, connection.Cancellation);

        byte[] bytes;
        if (connection.Resuming && _session.SessionId is { } sessionId && _session.LastSequence is { } seq)
        {
            bytes = JsonSerializer.SerializeToUtf8Bytes(
                new JsonGatewayCommand<JsonResume>(GatewayOpcodes.Resume, new JsonResume(_options.Token!, sessionId, seq)),
                GatewayJsonContext.Default.JsonGatewayCommandJsonResume);
            GatewayLog.LogResuming(_logger, seq);
        }
        else
        {
            connection.Resuming = false;
            var properties = new JsonIdentifyProperties(OperatingSystemName(), "dockhand", "dockhand");
            bytes = JsonSerializer.SerializeToUtf8Bytes(
                new JsonGatewayCommand<JsonIdentify>(GatewayOpcodes.Identify, new JsonIdentify(_options.Token!, _options.Intents, properties)),
                GatewayJsonContext.Default.JsonGatewayCommandJsonIdentify);
            GatewayLog.LogIdentifying(_logger, _options.Intents);
        }

        connection.EnqueueControl(new OutgoingFrame(bytes, connection.Resuming ? GatewayOpcodes.Resume : GatewayOpcodes.Identify, null));
    }

    private static string OperatingSystemName() =>
        OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "macos" : "unknown";

    private void OnReady(GatewayConnection connection, JsonElement data)
    {
        var ready = data.Deserialize(GatewayJsonContext.Default.JsonReady) ?? throw new JsonException("READY without data");
        var resumeUrl = _session.Start(ready);
        if (_session.ApplicationId is { } applicationId)
            _applicationIds?.Remember(applicationId);
        GatewayLog.LogReady(_logger, _session.ApplicationId?.Value ?? 0, resumeUrl?.Host ?? "(none)");
        connection.MarkEstablished();
    }

    private void OnResumed(GatewayConnection connection)
    {
        GatewayLog.LogResumed(_logger, _session.LastSequence ?? -1);
        connection.MarkEstablished();
    }

    private void EnqueueHeartbeat(GatewayConnection connection)
    {
        connection.AwaitingAck = true;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(
            new JsonGatewayCommand<long?>(GatewayOpcodes.Heartbeat, _session.LastSequence),
            GatewayJsonContext.Default.JsonGatewayCommandNullableInt64);
        connection.EnqueueControl(new OutgoingFrame(bytes, GatewayOpcodes.Heartbeat, null));
    }

    /// <summary>
    /// The first beat goes after <c>interval · jitter</c> (Discord asks for the jitter so that clients reconnecting
    /// together do not beat together), then one every interval on a <see cref="PeriodicTimer"/> of the injected clock.
    /// A beat due while the last one is unacknowledged means a zombie connection: leave and resume. The timer is
    /// created before this method first awaits, so it exists before Identify/Resume is queued.
    /// </summary>
    private async Task HeartbeatLoopAsync(GatewayConnection connection, TimeSpan interval, CancellationToken cancellationToken)
    {
        var first = interval * Math.Clamp(_settings.Random(), 0, 1);
        using var timer = new PeriodicTimer(first >= TimeSpan.FromMilliseconds(1) ? first : TimeSpan.FromMilliseconds(1), _time);
        var period = timer.Period;
        // PeriodicTimer coalesces missed ticks, so a paused process never fires two beats back to back.
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            if (connection.AwaitingAck)
            {
                GatewayLog.LogZombie(_logger, interval.TotalMilliseconds);
                connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "no heartbeat ACK (zombie connection)") { ClientCloses = true });
                return;
            }

            EnqueueHeartbeat(connection);
            if (period != interval)
                timer.Period = period = interval;
        }
    }

    /// <summary>
    /// A new session is saved at once (its READY's sequence: everything after it may be replayed), so that a process
    /// taking over a moment later resumes it rather than identifying anew and losing what came in between.
    /// </summary>
    private async Task SaveReadyCheckpointAsync(CancellationToken cancellationToken)
    {
        lock (_recentGate)
            _recentSequences.Clear();
        if (_session.LastSequence is { } seq && _session.Snapshot(seq) is { } checkpoint)
            await SaveCheckpointAsync(checkpoint, cancellationToken);
    }

    /// <summary>Every <see cref="CheckpointInterval"/>: saves the newest sequence received at least <see cref="CheckpointLag"/> ago.</summary>
    private async Task CheckpointLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(CheckpointInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            long? settled = null;
            var now = _time.GetTimestamp();
            lock (_recentGate)
            {
                while (_recentSequences.Count > 0 && _time.GetElapsedTime(_recentSequences.Peek().ReceivedAt, now) >= CheckpointLag)
                    settled = _recentSequences.Dequeue().Sequence;
            }
            if (settled is { } seq && _session.Snapshot(seq) is { } checkpoint && checkpoint != _lastSaved)
                await SaveCheckpointAsync(checkpoint, cancellationToken);
        }
    }

    private async Task SaveCheckpointAsync(GatewaySessionCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        try
        {
            await _sessionStore!.SaveAsync(checkpoint, cancellationToken);
            _lastSaved = checkpoint;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A missed save only makes the next holder's replay longer; the next tick tries again.
            GatewayLog.LogCheckpointFailed(_logger, ex.GetType().Name);
        }
    }

    private async Task DispatchLoopAsync(ChannelReader<GatewayDispatch> reader, CancellationToken cancellationToken)
    {
        await foreach (var item in reader.ReadAllAsync(cancellationToken))
        {
            using (item.Document)
            {
                var data = item.Document.RootElement.TryGetProperty("d", out var d) ? d : default;
                try
                {
                    await _dispatchHandler.HandleDispatchAsync(item.EventName, data, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    GatewayLog.LogDispatchHandlerFailed(_logger, ex, item.EventName);
                }
            }
        }
    }

}
