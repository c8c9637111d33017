using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;

namespace Dockhand.Discord.Gateway;

/// <summary>A dispatch (op 0) on its way to <see cref="IGatewayDispatchHandler"/>; the handler loop disposes the document.</summary>
internal sealed record GatewayDispatch(string EventName, JsonDocument Document);

/// <summary>A serialized gateway payload; <see cref="Completion"/> is set for caller-queued commands, null for control frames.</summary>
internal sealed record OutgoingFrame(byte[] Bytes, int Op, TaskCompletionSource? Completion);

/// <summary>Why a connection ended, and what the supervisor does next.</summary>
internal sealed record ConnectionOutcome(GatewayCloseAction Action, string Reason)
{
    public int? CloseCode { get; init; }

    /// <summary>The client ends the connection itself (with a resumable, non-1000 code).</summary>
    public bool ClientCloses { get; init; }

    /// <summary>Op 9 d:false: wait 1–5 s before identifying again.</summary>
    public bool InvalidSessionWait { get; init; }

    public bool ConnectFailed { get; init; }
}

/// <summary>
/// One WebSocket connection to the gateway: its socket, its control queue (heartbeat, Identify, Resume), the signal
/// that wakes the send loop, and its outcome (set once, by whichever loop sees the end first).
/// </summary>
internal sealed class GatewayConnection(ClientWebSocket socket, bool resuming, CancellationToken connectionToken) : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _heartbeatCts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
    private volatile bool _established;
    private volatile bool _helloReceived;
    private int _awaitingAck;

    public ClientWebSocket Socket => socket;

    public bool Resuming { get; set; } = resuming;

    /// <summary>READY or RESUMED has arrived: ordinary commands may go out.</summary>
    public bool Established => _established;

    public bool HelloReceived
    {
        get => _helloReceived;
        set => _helloReceived = value;
    }

    /// <summary>A heartbeat went out and its ACK (op 11) has not arrived yet.</summary>
    public bool AwaitingAck
    {
        get => Volatile.Read(ref _awaitingAck) == 1;
        set => Volatile.Write(ref _awaitingAck, value ? 1 : 0);
    }

    public SemaphoreSlim SendLock { get; } = new(1, 1);

    public ConcurrentQueue<OutgoingFrame> Control { get; } = new();

    public TaskCompletionSource<ConnectionOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cancelled when the connection ends: stops the heartbeat.</summary>
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

    /// <summary>Waits for <see cref="Signal"/>, or at most <paramref name="timeout"/> on <paramref name="time"/>.</summary>
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

    /// <summary>
    /// Sends a close frame (best effort, never throws): 1000 ends the session, any 4xxx keeps it resumable. A write in
    /// progress gets <paramref name="sendWait"/> on <paramref name="time"/> to finish; after that the close is skipped.
    /// </summary>
    public async Task TryCloseAsync(WebSocketCloseStatus status, string reason, TimeProvider time, TimeSpan sendWait)
    {
        using (var waitLimit = new CancellationTokenSource(sendWait, time))
        {
            try
            {
                await SendLock.WaitAsync(waitLimit.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseOutputAsync(status, reason, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or InvalidOperationException)
        {
        }
        finally
        {
            SendLock.Release();
        }
    }
}
