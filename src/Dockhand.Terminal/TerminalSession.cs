using System.Net.WebSockets;
using Dockhand.Containers;
using Microsoft.Extensions.Logging;

namespace Dockhand.Terminal;

/// <summary>
/// One browser terminal: a server-side session (its id is the cookie value) bound to an owner, a container and the
/// token's expiry, owning at most one docker exec and at most one attached WebSocket at a time.
/// <para>
/// Output flows exec → replay ring → socket, one bounded buffer at a time: the next read from docker waits until the
/// socket accepted the previous frame, and no read happens while no socket is attached. Input flows socket → exec the
/// same way. So a <c>yes</c> flood is throttled to what the browser takes; memory stays at a few buffers.
/// </para>
/// </summary>
// Not disposable on purpose: the send lock and the ending token's source hold nothing unmanaged here (no wait handle is
// ever asked for, no CancelAfter timer), and an attach that races the end may still touch them after the session ended;
// disposing them would trade no resource for an ObjectDisposedException on that path.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "SemaphoreSlim and CancellationTokenSource without wait handle or timer own no resource; see the comment above.")]
internal sealed class TerminalSession
{
    private readonly IContainerRuntime _runtime;
    private readonly TerminalOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<TerminalSession> _onEnded;
    private readonly TerminalMetrics? _metrics;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ReplayBuffer _replay;
    private readonly CancellationTokenSource _ending = new();
    private readonly ITimer _expiryTimer;
    private ITimer? _detachTimer;
    private WebSocket? _socket;
    private TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _start;
    private string _shell = TerminalShell.Sh;
    private IShellProcess? _process;
    private Task? _end;
    private readonly TaskCompletionSource _endedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _notice;

    public TerminalSession(string id, long sequence, OwnerId owner, string containerId, string containerName, DateTimeOffset expiresAt, DateTimeOffset openedAt,
        IContainerRuntime runtime, TerminalOptions options, TimeProvider time, ILogger logger, Action<TerminalSession> onEnded, TerminalMetrics? metrics = null,
        string? notice = null)
    {
        _metrics = metrics;
        _notice = notice;
        Id = id;
        Sequence = sequence;
        OpenedAt = openedAt;
        Owner = owner;
        ContainerId = containerId;
        ContainerName = containerName;
        ExpiresAt = expiresAt;
        _runtime = runtime;
        _options = options;
        _time = time;
        _logger = logger;
        _onEnded = onEnded;
        _replay = new ReplayBuffer(options.ReplayBufferBytes);

        var untilExpiry = expiresAt - time.GetUtcNow();
        _expiryTimer = time.CreateTimer(_ => _ = EndAsync(TerminalEndReasons.Expired(options.TokenTimeToLive)),
            null, untilExpiry > TimeSpan.Zero ? untilExpiry : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        _detachTimer = time.CreateTimer(_ => EndIfDetached(TerminalEndReasons.NeverOpened), null, options.FirstAttachTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The secret cookie value. Never log it.</summary>
    public string Id { get; }

    /// <summary>Creation order (a counter, not a clock): the lowest live one is an owner's oldest session.</summary>
    public long Sequence { get; }

    /// <summary>When this process opened the session's shell: the per-owner cap ends the oldest first.</summary>
    public DateTimeOffset OpenedAt { get; }

    public OwnerId Owner { get; }

    public string ContainerId { get; }

    /// <summary>Shown on the page so nobody types into a shell someone else's link opened.</summary>
    public string ContainerName { get; }

    public DateTimeOffset ExpiresAt { get; }

    public string? EndReason { get; private set; }

    private long _outputBytes;

    /// <summary>Bytes read from the exec so far (tests use it to see back-pressure).</summary>
    public long OutputBytes => Interlocked.Read(ref _outputBytes);

    /// <summary>The shell process's engine id once started (tests inspect it).</summary>
    public string? ExecId => _process?.Id;

    /// <summary>Completes when the session has fully ended: socket closed, stream closed, exec verified stopped.</summary>
    public Task Ended => _endedSignal.Task;

    /// <summary>Attaches a socket and relays input until the socket closes or the session ends. Replays recent output first.</summary>
    public async Task AttachAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        Task start;
        lock (_gate)
        {
            if (EndReason is not null)
                start = Task.CompletedTask;
            else
                start = _start ??= StartAsync();
        }
        try
        {
            await start;
        }
        catch (Exception e) when (e is EngineException or ContainerNotRunningException or OperationCanceledException)
        {
            Log.SessionFailed(_logger, e, ContainerId);
            await EndAsync(TerminalEndReasons.StartFailed(e));
        }

        if (EndReason is { } ended)
        {
            await SendEndedAndCloseAsync(socket, ended);
            return;
        }

        WebSocket? previous;
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            var replay = _replay.ToArray();
            // The notice (a reopened session's) is for the first page that attaches; a re-attach here keeps the shell.
            var notice = Interlocked.Exchange(ref _notice, null);
            await socket.SendAsync(TerminalProtocol.Attached(_shell, replay.Length, ContainerName, Owner.ToString(), notice), WebSocketMessageType.Text, true, cancellationToken);
            if (replay.Length > 0)
                await socket.SendAsync(replay, WebSocketMessageType.Binary, true, cancellationToken);
            lock (_gate)
            {
                if (EndReason is null)
                {
                    previous = _socket;
                    _socket = socket;
                    _detachTimer?.Dispose();
                    _detachTimer = null;
                    _attached.TrySetResult();
                }
                else
                {
                    previous = null;
                }
            }
        }
        finally
        {
            _sendLock.Release();
        }
        if (EndReason is { } endedMeanwhile && !ReferenceEquals(_socket, socket))
        {
            // The session ended while this socket was being attached.
            await SendEndedAndCloseAsync(socket, endedMeanwhile);
            return;
        }
        if (previous is not null)
            _ = SendEndedAndCloseAsync(previous, TerminalEndReasons.OpenedElsewhere);

        try
        {
            await RelayInputAsync(socket, cancellationToken);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or EngineException)
        {
            // The socket went away, the shell's stream broke, or the session ended; all are handled below.
        }
        finally
        {
            Detach(socket);
        }
    }

    /// <summary>Ends the session once: closes the socket with the reason, closes the stream and makes sure the exec has stopped.</summary>
    public Task EndAsync(string reason)
    {
        lock (_gate)
        {
            if (_end is not null)
                return _end;
            EndReason = reason;
            _end = EndCoreAsync(reason);
            return _end;
        }
    }

    private async Task StartAsync()
    {
        var presence = (await _runtime.InspectAsync(ContainerId, _ending.Token)).Presence();
        if (presence != ContainerPresence.Running)
            throw new ContainerNotRunningException(presence);
        _shell = await TerminalShell.ChooseAsync(_runtime, ContainerId, _ending.Token);
        var process = await _runtime.StartShellAsync(ContainerId, TerminalShell.Spec(_shell), _ending.Token);
        lock (_gate)
            _process = process;
        Log.ExecStarted(_logger, ContainerId, process.Id, _shell);
        _ = Task.Run(PumpOutputAsync);
        _ = Task.Run(WatchContainerAsync);
    }

    private async Task PumpOutputAsync()
    {
        var buffer = new byte[_options.ReadBufferBytes];
        var token = _ending.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                Task attached;
                lock (_gate)
                    attached = _attached.Task;
                await attached.WaitAsync(token);

                var read = await _process!.ReadAsync(buffer, token);
                if (read == 0)
                {
                    await EndAsync(await DescribeExitAsync());
                    return;
                }

                Interlocked.Add(ref _outputBytes, read);
                _metrics?.Output(read);
                await _sendLock.WaitAsync(token);
                try
                {
                    _replay.Write(buffer.AsSpan(0, read));
                    WebSocket? socket;
                    lock (_gate)
                        socket = _socket;
                    if (socket is { State: WebSocketState.Open })
                    {
                        try
                        {
                            await socket.SendAsync(buffer.AsMemory(0, read), WebSocketMessageType.Binary, true, token);
                        }
                        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
                        {
                            // The bytes are in the replay ring; the input side notices the dead socket and detaches.
                            socket.Abort();
                        }
                    }
                }
                finally
                {
                    _sendLock.Release();
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is EngineException or ObjectDisposedException)
        {
            if (!token.IsCancellationRequested)
                await EndAsync(await DescribeExitAsync());
        }
        catch (Exception e) when (!token.IsCancellationRequested)
        {
            // A bug must not leave a session (and its exec) running unseen.
            Log.SessionFailed(_logger, e, ContainerId);
            await EndAsync(TerminalEndReasons.Failed);
        }
    }

    private async Task RelayInputAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        // Not linked to the session's end: cancelling a pending receive aborts the socket, and the page must first
        // get the "ended" message. EndCoreAsync closes the socket instead, which ends this loop.
        var token = cancellationToken;
        var buffer = new byte[4096];
        var control = new ControlMessageReader();
        while (socket.State == WebSocketState.Open)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), token);
            switch (result.MessageType)
            {
                case WebSocketMessageType.Close:
                    if (socket.State == WebSocketState.CloseReceived)
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
                    return;
                case WebSocketMessageType.Binary when result.Count > 0 && EndReason is null:
                    await _process!.WriteAsync(buffer.AsMemory(0, result.Count), token);
                    _metrics?.Input(result.Count);
                    break;
                case WebSocketMessageType.Text:
                    if (control.TryReadResize(buffer.AsSpan(0, result.Count), result.EndOfMessage, out var columns, out var rows) && _process is { } process)
                        await process.ResizeAsync(columns, rows, token);
                    break;
            }
        }
    }

    private void Detach(WebSocket socket)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_socket, socket))
                return;
            _socket = null;
            _attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (EndReason is not null)
                return;
            _detachTimer?.Dispose();
            _detachTimer = _time.CreateTimer(_ => EndIfDetached(TerminalEndReasons.PageClosed), null, _options.ReattachGrace, Timeout.InfiniteTimeSpan);
        }
        Log.SessionDetached(_logger, ContainerId, _options.ReattachGrace);
    }

    private void EndIfDetached(string reason)
    {
        lock (_gate)
        {
            if (_socket is not null)
                return;
        }
        _ = EndAsync(reason);
    }

    /// <summary>Ends the session when the container stops or goes (the runtime watches; engine events are not relied upon).</summary>
    private async Task WatchContainerAsync()
    {
        var token = _ending.Token;
        try
        {
            var presence = await _runtime.WaitUntilNotRunningAsync(ContainerId, _options.ContainerPollInterval, token);
            await EndAsync(TerminalEndReasons.ContainerEnded(presence));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A bug must not leave a session running unwatched.
            Log.SessionFailed(_logger, e, ContainerId);
            await EndAsync(TerminalEndReasons.Failed);
        }
    }

    private async Task EndCoreAsync(string reason)
    {
        await Task.Yield();
        try
        {
            Log.SessionEnded(_logger, ContainerId, reason);
            await _expiryTimer.DisposeAsync();
            WebSocket? socket;
            lock (_gate)
            {
                _detachTimer?.Dispose();
                _detachTimer = null;
                socket = _socket;
                _socket = null;
            }
            if (socket is not null)
            {
                // Say why before anything is cancelled (a cancelled send or receive aborts the socket without a word).
                var locked = await _sendLock.WaitAsync(TimeSpan.FromSeconds(2));
                try
                {
                    await SendEndedAndCloseAsync(socket, reason);
                }
                finally
                {
                    if (locked)
                        _sendLock.Release();
                }
                _ = AbortLaterAsync(socket);
            }
            await _ending.CancelAsync();

            if (_start is not null)
            {
                try
                {
                    await _start;
                }
                catch (Exception)
                {
                    // Reported by AttachAsync.
                }
            }
            IShellProcess? process;
            lock (_gate)
                process = _process;
            if (process is not null)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    await process.EndAsync(timeout.Token);
                }
                catch (Exception e) when (e is EngineException or OperationCanceledException)
                {
                    Log.SessionFailed(_logger, e, ContainerId);
                }
                finally
                {
                    await process.DisposeAsync();
                }
            }
        }
        finally
        {
            _onEnded(this);
            _endedSignal.TrySetResult();
        }
    }

    /// <summary>A page that never answers the close handshake must not keep the request alive.</summary>
    private async Task AbortLaterAsync(WebSocket socket)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5), _time);
        }
        finally
        {
            if (socket.State != WebSocketState.Closed)
                socket.Abort();
        }
    }

    private async Task SendEndedAndCloseAsync(WebSocket socket, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            if (socket.State == WebSocketState.Open)
                await socket.SendAsync(TerminalProtocol.Ended(reason), WebSocketMessageType.Text, true, timeout.Token);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseOutputAsync((WebSocketCloseStatus)4000, "session ended", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            socket.Abort();
        }
    }

    private Task<string> DescribeExitAsync() => TerminalEndReasons.AfterOutputEndedAsync(_runtime, ContainerId, _process, _time);
}
