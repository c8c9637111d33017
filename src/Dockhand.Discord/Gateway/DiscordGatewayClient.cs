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
/// Every dispatch (op 0) goes, in order, to <see cref="IGatewayDispatchHandler"/>.
/// </summary>
public sealed partial class DiscordGatewayClient
{
    /// <summary>Sent on the WebSocket upgrade; Discord-compatible servers such as Spacebar close connections without one.</summary>
    public const string UserAgent = "DiscordBot (https://github.com/dockhand/dockhand, 1.0)";

    private const int OpDispatch = 0;
    private const int OpHeartbeat = 1;
    private const int OpIdentify = 2;
    private const int OpResume = 6;
    private const int OpReconnect = 7;
    private const int OpInvalidSession = 9;
    private const int OpHello = 10;
    private const int OpHeartbeatAck = 11;

    /// <summary>Close code the client uses when it leaves to resume: anything but 1000/1001 keeps the session alive.</summary>
    private const WebSocketCloseStatus ResumableCloseStatus = (WebSocketCloseStatus)4000;

    private readonly DiscordOptions _options;
    private readonly IGatewayDispatchHandler _dispatchHandler;
    private readonly IGatewayBotInfoSource? _botInfoSource;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GatewayClientSettings _settings;
    private readonly ReconnectBackoff _backoff;
    private readonly GatewaySendLimiter _limiter;
    private readonly IdentifyGate _identifyGate;
    private readonly Channel<OutgoingFrame> _ordinary = Channel.CreateUnbounded<OutgoingFrame>(new UnboundedChannelOptions { SingleReader = true });

    private Connection? _current;
    private int _running;
    private string? _sessionId;
    private Uri? _resumeUrl;
    private int _skipResumeUrlOnce;

    /// <summary>How long one WebSocket connect (TCP, TLS and the upgrade) may take.</summary>
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);
    private readonly DiscordMetrics? _metrics;
    private long _lastSequence = -1;
    private long _applicationId;

    public DiscordGatewayClient(
        IOptions<DiscordOptions> options,
        IGatewayDispatchHandler dispatchHandler,
        ILogger<DiscordGatewayClient> logger,
        TimeProvider? timeProvider = null,
        IGatewayBotInfoSource? botInfoSource = null,
        DiscordMetrics? metrics = null)
        : this(options, dispatchHandler, logger, timeProvider ?? TimeProvider.System, botInfoSource, new GatewayClientSettings())
    {
        _metrics = metrics;
    }

    internal DiscordGatewayClient(
        IOptions<DiscordOptions> options,
        IGatewayDispatchHandler dispatchHandler,
        ILogger logger,
        TimeProvider timeProvider,
        IGatewayBotInfoSource? botInfoSource,
        GatewayClientSettings settings)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _dispatchHandler = dispatchHandler;
        _logger = logger;
        _time = timeProvider;
        _botInfoSource = botInfoSource;
        _settings = settings;
        _backoff = settings.Backoff ?? ReconnectBackoff.CreateDefault(settings.Random);
        _limiter = new GatewaySendLimiter(settings.SendLimit, settings.SendReservedForControl, settings.SendWindow);
        _identifyGate = new IdentifyGate(timeProvider);
    }

    /// <summary>The current session's id (from READY), or null before the first READY or after the session was invalidated.</summary>
    public string? SessionId => Volatile.Read(ref _sessionId);

    /// <summary>The application id READY reported, or null before READY.</summary>
    public ulong? ApplicationId => Interlocked.Read(ref _applicationId) is var id and > 0 ? (ulong)id : null;

    /// <summary>The last non-null dispatch sequence number received, or null.</summary>
    public long? LastSequence => Interlocked.Read(ref _lastSequence) is var s and >= 0 ? s : null;

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
        if (opcode is OpHeartbeat or OpIdentify or OpResume or < 0)
            throw new ArgumentOutOfRangeException(nameof(opcode), opcode, "Heartbeat, Identify and Resume are sent by the gateway client itself.");

        var bytes = JsonSerializer.SerializeToUtf8Bytes(new JsonGatewayCommand<JsonElement>(opcode, data), GatewayJsonContext.Default.JsonGatewayCommandJsonElement);
        if (bytes.Length > _settings.MaxPayloadBytes)
        {
            LogPayloadTooLarge(_logger, opcode, bytes.Length, _settings.MaxPayloadBytes);
            throw new ArgumentException($"Gateway payload is {bytes.Length} bytes; Discord closes the connection (4002) above {_settings.MaxPayloadBytes}.", nameof(data));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var frame = new OutgoingFrame(bytes, opcode, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(static state => ((OutgoingFrame)state!).Completion!.TrySetCanceled(), frame);
            _ = frame.Completion!.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        _ordinary.Writer.TryWrite(frame);
        Volatile.Read(ref _current)?.Signal();
        return frame.Completion!.Task;
    }

    /// <summary>
    /// Runs the gateway until <paramref name="cancellationToken"/> is cancelled (then closes with 1000) or Discord closes
    /// with a fatal code (throws <see cref="GatewayFatalException"/>). Reconnects and resumes by itself otherwise.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(_options.Token))
            throw new InvalidOperationException("The Discord gateway needs a bot token: set DISCORD_TOKEN.");
        if (_options.GatewayUrl is null && _botInfoSource is null)
            throw new InvalidOperationException("No gateway URL: set DISCORD_GATEWAY_URL or register an IGatewayBotInfoSource (the REST client provides one).");
        if (Interlocked.Exchange(ref _running, 1) == 1)
            throw new InvalidOperationException("RunAsync is already running on this client.");

        var dispatch = Channel.CreateUnbounded<DispatchItem>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var dispatchLoop = DispatchLoopAsync(dispatch.Reader, runCts.Token);
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

            while (dispatch.Reader.TryRead(out var left))
                left.Document.Dispose();
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task SuperviseAsync(ChannelWriter<DispatchItem> dispatch, CancellationToken cancellationToken)
    {
        var attempt = 1; // a failure before any healthy session is backed off
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var resume = SessionId is not null && LastSequence is not null;
            Uri url;
            try
            {
                var skipResumeUrl = Interlocked.Exchange(ref _skipResumeUrlOnce, 0) == 1;
                if (resume && !skipResumeUrl && Volatile.Read(ref _resumeUrl) is { } resumeUrl)
                {
                    url = resumeUrl;
                }
                else
                {
                    url = await GetGatewayUrlAsync(cancellationToken);
                    if (!resume)
                        await WaitForIdentifySlotAsync(cancellationToken);
                }
            }
            catch (DiscordRestException ex) when (ex.BotTokenRejected)
            {
                // Discord answers 401 to GET /gateway/bot before a gateway could close with 4004: retrying cannot help.
                var fatal = new GatewayFatalException(GatewayCloseCodes.TokenRejectedMessage(ex.Route ?? "GET /gateway/bot"));
                LogTokenRejected(_logger, fatal.Message);
                throw fatal;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogGatewayInfoFailed(_logger, ex);
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
                GatewayCloseAction.Resume when SessionId is not null && LastSequence is not null => "resume",
                _ => "identify",
            };
            LogDisconnected(_logger, outcome.CloseCode ?? 0, GatewayCloseCodes.Describe(outcome.CloseCode), outcome.Reason, next);
            switch (outcome.Action)
            {
                case GatewayCloseAction.Fatal:
                    var fatal = new GatewayFatalException(outcome.CloseCode ?? 0);
                    LogFatal(_logger, outcome.CloseCode ?? 0, fatal.Message);
                    throw fatal;
                case GatewayCloseAction.NewSession:
                    ClearSession();
                    break;
                case GatewayCloseAction.Resume when outcome.ConnectFailed && resume:
                    // Fall back to the gateway URL for the next attempt only, still resuming; the resume URL stays the
                    // one READY gave for the attempts after that.
                    Volatile.Write(ref _skipResumeUrlOnce, 1);
                    break;
            }

            var delay = outcome.InvalidSessionWait ? InvalidSessionDelay() : _backoff.GetDelay(attempt);
            attempt++;
            LogReconnecting(_logger, delay.TotalMilliseconds, next);
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
                    _identifyGate.Update(await _botInfoSource.GetGatewayBotInfoAsync(cancellationToken));
                }
                catch (Exception ex) when (ex is not DiscordRestException { BotTokenRejected: true }
                    && (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
                {
                    LogGatewayInfoFailed(_logger, ex);
                }
            }

            return configured;
        }

        var info = await _botInfoSource!.GetGatewayBotInfoAsync(cancellationToken);
        _identifyGate.Update(info);
        return info.Url;
    }

    private async Task WaitForIdentifySlotAsync(CancellationToken cancellationToken)
    {
        var wait = _identifyGate.GetDelay();
        if (wait <= TimeSpan.Zero)
            return;
        if (_identifyGate.SessionStartsExhausted)
            LogSessionStartsExhausted(_logger, wait.TotalSeconds);
        else
            LogIdentifyWait(_logger, wait.TotalMilliseconds, _identifyGate.MaxConcurrency);
        await Task.Delay(wait, _time, cancellationToken);
    }

    private void ClearSession()
    {
        Volatile.Write(ref _sessionId, null);
        Volatile.Write(ref _resumeUrl, null);
        Interlocked.Exchange(ref _lastSequence, -1);
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
        Uri url, bool resume, ChannelWriter<DispatchItem> dispatch, CancellationToken cancellationToken)
    {
        var uri = BuildConnectUri(url);
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("User-Agent", UserAgent);
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        LogConnecting(_logger, uri.GetLeftPart(UriPartial.Path), resume);
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
                LogConnectTimedOut(_logger, ConnectTimeout.TotalSeconds);
                return (new ConnectionOutcome(GatewayCloseAction.Resume, "connect timed out") { ConnectFailed = true }, false);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException)
            {
                LogConnectFailed(_logger, ex.Message);
                return (new ConnectionOutcome(GatewayCloseAction.Resume, "connect failed") { ConnectFailed = true }, false);
            }
        }

        // Not linked to cancellationToken: on shutdown the close frame must go out before the loops are cancelled
        // (cancelling a pending ClientWebSocket receive aborts the socket).
        using var connectionCts = new CancellationTokenSource();
        var connection = new Connection(socket, resume, connectionCts.Token);
        Volatile.Write(ref _current, connection);
        var receive = ReceiveLoopAsync(connection, dispatch, connectionCts.Token);
        var send = SendLoopAsync(connection, connectionCts.Token);
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
                // Shutting down: 1000 ends the session on Discord's side, so the bot shows offline at once.
                await TryCloseAsync(connection, WebSocketCloseStatus.NormalClosure, "shutting down");
                await AwaitCloseHandshakeAsync(receive);
                throw;
            }

            if (outcome.ClientCloses)
            {
                await TryCloseAsync(connection, ResumableCloseStatus, "reconnecting");
                await AwaitCloseHandshakeAsync(receive);
            }
            else if (socket.State == WebSocketState.CloseReceived)
                await TryCloseAsync(connection, socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "closing");
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
    /// After sending our close frame, give the server a moment (wall-clock: this is an I/O grace period) to answer
    /// before the socket is aborted; an abort right away can reset the TCP connection and lose the close frame.
    /// </summary>
    private static async Task AwaitCloseHandshakeAsync(Task receiveLoop)
    {
        try
        {
            await receiveLoop.WaitAsync(TimeSpan.FromSeconds(1));
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

    private static async Task TryCloseAsync(Connection connection, WebSocketCloseStatus status, string reason)
    {
        if (!await connection.SendLock.WaitAsync(TimeSpan.FromSeconds(2)))
            return;
        try
        {
            if (connection.Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await connection.Socket.CloseOutputAsync(status, reason, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or InvalidOperationException)
        {
        }
        finally
        {
            connection.SendLock.Release();
        }
    }

    private async Task HelloWatchAsync(Connection connection, CancellationToken cancellationToken)
    {
        await Task.Delay(_settings.HelloTimeout, _time, cancellationToken);
        if (!connection.HelloReceived)
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "no Hello") { ClientCloses = true });
    }

    private async Task ReceiveLoopAsync(Connection connection, ChannelWriter<DispatchItem> dispatch, CancellationToken cancellationToken)
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
            LogUnreadablePayload(_logger, ex.GetType().Name);
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "unreadable payload") { ClientCloses = true });
        }
    }

    private async Task HandleMessageAsync(Connection connection, ReadOnlyMemory<byte> message, ChannelWriter<DispatchItem> dispatch, CancellationToken cancellationToken)
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
                case OpDispatch:
                    if (root.TryGetProperty("s", out var s) && s.ValueKind == JsonValueKind.Number)
                        Interlocked.Exchange(ref _lastSequence, s.GetInt64());
                    var eventName = root.TryGetProperty("t", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : string.Empty;
                    if (eventName == "READY")
                        OnReady(connection, data);
                    else if (eventName == "RESUMED")
                        OnResumed(connection);
                    await dispatch.WriteAsync(new DispatchItem(eventName, document), cancellationToken);
                    handedOver = true;
                    break;
                case OpHeartbeat:
                    LogHeartbeatRequested(_logger);
                    EnqueueHeartbeat(connection);
                    break;
                case OpReconnect:
                    connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "op 7 reconnect") { ClientCloses = true });
                    break;
                case OpInvalidSession:
                    var resumable = data.ValueKind == JsonValueKind.True;
                    LogInvalidSession(_logger, resumable);
                    connection.End(resumable
                        ? new ConnectionOutcome(GatewayCloseAction.Resume, "op 9 invalid session (resumable)") { ClientCloses = true }
                        : new ConnectionOutcome(GatewayCloseAction.NewSession, "op 9 invalid session") { ClientCloses = true, InvalidSessionWait = true });
                    break;
                case OpHello:
                    OnHello(connection, data);
                    break;
                case OpHeartbeatAck:
                    Volatile.Write(ref connection.AwaitingAck, 0);
                    break;
            }
        }
        finally
        {
            if (!handedOver)
                document.Dispose();
        }
    }

    private void OnHello(Connection connection, JsonElement data)
    {
        if (connection.HelloReceived)
            return;
        connection.HelloReceived = true;
        var hello = data.Deserialize(GatewayJsonContext.Default.JsonHello) ?? throw new JsonException("Hello without data");
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, hello.HeartbeatInterval));
        LogHello(_logger, hello.HeartbeatInterval);

        // Started synchronously: its first timer exists before Identify/Resume is queued.
        connection.Heartbeat = HeartbeatLoopAsync(connection, interval, connection.Cancellation);

        byte[] bytes;
        if (connection.Resuming && SessionId is { } sessionId && LastSequence is { } seq)
        {
            bytes = JsonSerializer.SerializeToUtf8Bytes(
                new JsonGatewayCommand<JsonResume>(OpResume, new JsonResume(_options.Token!, sessionId, seq)),
                GatewayJsonContext.Default.JsonGatewayCommandJsonResume);
            LogResuming(_logger, seq);
        }
        else
        {
            connection.Resuming = false;
            var properties = new JsonIdentifyProperties(OperatingSystemName(), "dockhand", "dockhand");
            bytes = JsonSerializer.SerializeToUtf8Bytes(
                new JsonGatewayCommand<JsonIdentify>(OpIdentify, new JsonIdentify(_options.Token!, _options.Intents, properties)),
                GatewayJsonContext.Default.JsonGatewayCommandJsonIdentify);
            LogIdentifying(_logger, _options.Intents);
        }

        connection.EnqueueControl(new OutgoingFrame(bytes, connection.Resuming ? OpResume : OpIdentify, null));
    }

    private static string OperatingSystemName() =>
        OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "macos" : "unknown";

    private void OnReady(Connection connection, JsonElement data)
    {
        var ready = data.Deserialize(GatewayJsonContext.Default.JsonReady) ?? throw new JsonException("READY without data");
        Volatile.Write(ref _sessionId, ready.SessionId);
        Volatile.Write(ref _resumeUrl, Uri.TryCreate(ready.ResumeGatewayUrl, UriKind.Absolute, out var resumeUrl) ? resumeUrl : null);
        if (ulong.TryParse(ready.Application?.Id, out var applicationId))
            Interlocked.Exchange(ref _applicationId, (long)applicationId);
        LogReady(_logger, ApplicationId ?? 0, resumeUrl?.Host ?? "(none)");
        connection.MarkEstablished();
    }

    private void OnResumed(Connection connection)
    {
        LogResumed(_logger, LastSequence ?? -1);
        connection.MarkEstablished();
    }

    private void EnqueueHeartbeat(Connection connection)
    {
        Volatile.Write(ref connection.AwaitingAck, 1);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(
            new JsonGatewayCommand<long?>(OpHeartbeat, LastSequence),
            GatewayJsonContext.Default.JsonGatewayCommandNullableInt64);
        connection.EnqueueControl(new OutgoingFrame(bytes, OpHeartbeat, null));
    }

    private async Task HeartbeatLoopAsync(Connection connection, TimeSpan interval, CancellationToken cancellationToken)
    {
        var next = _time.GetUtcNow() + (interval * Math.Clamp(_settings.Random(), 0, 1));
        while (!cancellationToken.IsCancellationRequested)
        {
            var delay = next - _time.GetUtcNow();
            if (delay > TimeSpan.Zero)
                await Task.Delay(delay, _time, cancellationToken);

            if (Volatile.Read(ref connection.AwaitingAck) == 1)
            {
                LogZombie(_logger, interval.TotalMilliseconds);
                connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "no heartbeat ACK (zombie connection)") { ClientCloses = true });
                return;
            }

            EnqueueHeartbeat(connection);
            next += interval;
            var now = _time.GetUtcNow();
            if (next <= now)
                next = now + interval; // fell behind (paused process): never fire two beats back to back
        }
    }

    private async Task SendLoopAsync(Connection connection, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (connection.Control.TryDequeue(out var control))
                {
                    await WriteAsync(connection, control, cancellationToken);
                    continue;
                }

                if (connection.Established && _ordinary.Reader.TryPeek(out var next))
                {
                    if (next.Completion is { Task.IsCompleted: true })
                    {
                        _ordinary.Reader.TryRead(out _); // cancelled by its caller
                        continue;
                    }

                    var wait = _limiter.DelayForOrdinary(_time.GetUtcNow());
                    if (wait <= TimeSpan.Zero)
                    {
                        _ordinary.Reader.TryRead(out _);
                        await WriteAsync(connection, next, cancellationToken);
                        continue;
                    }

                    LogSendThrottled(_logger, wait.TotalMilliseconds);
                    await connection.WaitForSignalAsync(_time, wait, cancellationToken);
                    continue;
                }

                await connection.WaitForSignalAsync(_time, Timeout.InfiniteTimeSpan, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
        {
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "send failed"));
        }
        catch (Exception ex)
        {
            LogSendLoopFailed(_logger, ex);
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "send loop failed") { ClientCloses = true });
        }
    }

    private async Task WriteAsync(Connection connection, OutgoingFrame frame, CancellationToken cancellationToken)
    {
        await connection.SendLock.WaitAsync(cancellationToken);
        try
        {
            await connection.Socket.SendAsync(frame.Bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        catch (Exception ex)
        {
            frame.Completion?.TrySetException(ex);
            throw;
        }
        finally
        {
            connection.SendLock.Release();
        }

        var now = _time.GetUtcNow();
        _limiter.Record(now);
        if (frame.Op == OpIdentify)
            _identifyGate.RecordIdentify();
        frame.Completion?.TrySetResult();
    }

    private async Task DispatchLoopAsync(ChannelReader<DispatchItem> reader, CancellationToken cancellationToken)
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
                    LogDispatchHandlerFailed(_logger, ex, item.EventName);
                }
            }
        }
    }

    private sealed record DispatchItem(string EventName, JsonDocument Document);

    private sealed record OutgoingFrame(byte[] Bytes, int Op, TaskCompletionSource? Completion);

    private sealed record ConnectionOutcome(GatewayCloseAction Action, string Reason)
    {
        public int? CloseCode { get; init; }

        /// <summary>The client ends the connection itself (with a resumable, non-1000 code).</summary>
        public bool ClientCloses { get; init; }

        /// <summary>Op 9 d:false: wait 1–5 s before identifying again.</summary>
        public bool InvalidSessionWait { get; init; }

        public bool ConnectFailed { get; init; }
    }

    private sealed class Connection(ClientWebSocket socket, bool resuming, CancellationToken connectionToken) : IDisposable
    {
        private readonly SemaphoreSlim _signal = new(0);
        private readonly CancellationTokenSource _heartbeatCts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
        private volatile bool _established;
        private volatile bool _helloReceived;

        public int AwaitingAck;

        public ClientWebSocket Socket => socket;

        public bool Resuming { get; set; } = resuming;

        public bool Established => _established;

        public bool HelloReceived
        {
            get => _helloReceived;
            set => _helloReceived = value;
        }

        public SemaphoreSlim SendLock { get; } = new(1, 1);

        public System.Collections.Concurrent.ConcurrentQueue<OutgoingFrame> Control { get; } = new();

        public TaskCompletionSource<ConnectionOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken Cancellation => _heartbeatCts.Token;

        public Task? Heartbeat { get; set; }

        public void End(ConnectionOutcome outcome)
        {
            if (Outcome.TrySetResult(outcome))
                _heartbeatCts.Cancel();
        }

        public void MarkEstablished()
        {
            _established = true;
            Signal();
        }

        public void EnqueueControl(OutgoingFrame frame)
        {
            Control.Enqueue(frame);
            Signal();
        }

        public void Signal() => _signal.Release();

        /// <summary>Called once every loop of the connection has ended. The semaphores are left to the GC: a late
        /// <see cref="DiscordGatewayClient.SendAsync"/> may still signal this connection.</summary>
        public void Dispose() => _heartbeatCts.Dispose();

        public async Task WaitForSignalAsync(TimeProvider time, TimeSpan timeout, CancellationToken cancellationToken)
        {
            if (timeout == Timeout.InfiniteTimeSpan)
            {
                await _signal.WaitAsync(cancellationToken);
                return;
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var signalled = _signal.WaitAsync(cts.Token);
            var delay = Task.Delay(timeout, time, cts.Token);
            await Task.WhenAny(signalled, delay);
            await cts.CancelAsync();
            try
            {
                await signalled;
            }
            catch (OperationCanceledException)
            {
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}
