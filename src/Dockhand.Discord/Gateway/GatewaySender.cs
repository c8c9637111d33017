using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Dockhand.Discord.Gateway.JsonModels;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Gateway;

/// <summary>
/// The send path: the queue of caller commands (kept across reconnects), the 120 / 60 s send limit with headroom for
/// control frames (<see cref="GatewaySendLimiter"/>), and the Identify limits (<see cref="IdentifyGate"/>). One send
/// loop per connection drains the connection's control frames first, then caller commands once the session is
/// established.
/// </summary>
internal sealed class GatewaySender(GatewayClientSettings settings, TimeProvider time, ILogger logger)
{
    private readonly Channel<OutgoingFrame> _ordinary = Channel.CreateUnbounded<OutgoingFrame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly GatewaySendLimiter _limiter = new(settings.SendLimit, settings.SendReservedForControl, settings.SendWindow);
    private readonly IdentifyGate _identifyGate = new(time);

    /// <summary>Queues a caller command; completes when written. See <see cref="DiscordGatewayClient.SendAsync"/>.</summary>
    public Task EnqueueAsync(int opcode, JsonElement data, GatewayConnection? current, CancellationToken cancellationToken)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new JsonGatewayCommand<JsonElement>(opcode, data), GatewayJsonContext.Default.JsonGatewayCommandJsonElement);
        if (bytes.Length > settings.MaxPayloadBytes)
        {
            GatewayLog.LogPayloadTooLarge(logger, opcode, bytes.Length, settings.MaxPayloadBytes);
            throw new ArgumentException($"Gateway payload is {bytes.Length} bytes; Discord closes the connection (4002) above {settings.MaxPayloadBytes}.", nameof(data));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var frame = new OutgoingFrame(bytes, opcode, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(static state => ((OutgoingFrame)state!).Completion!.TrySetCanceled(), frame);
            _ = frame.Completion!.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        _ordinary.Writer.TryWrite(frame);
        current?.Signal();
        return frame.Completion!.Task;
    }

    /// <summary>Takes the Identify limits GET /gateway/bot reported.</summary>
    public void UpdateLimits(GatewayBotInfo info) => _identifyGate.Update(info);

    /// <summary>Waits until an Identify may go out (one per 5 s, and none while session starts are used up).</summary>
    public async Task WaitForIdentifySlotAsync(CancellationToken cancellationToken)
    {
        var wait = _identifyGate.GetDelay();
        if (wait <= TimeSpan.Zero)
            return;
        if (_identifyGate.SessionStartsExhausted)
            GatewayLog.LogSessionStartsExhausted(logger, wait.TotalSeconds);
        else
            GatewayLog.LogIdentifyWait(logger, wait.TotalMilliseconds, _identifyGate.MaxConcurrency);
        await Task.Delay(wait, time, cancellationToken);
    }

    /// <summary>Runs until the connection ends; a failed write ends the connection (resumable).</summary>
    public async Task RunAsync(GatewayConnection connection, CancellationToken cancellationToken)
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

                    var wait = _limiter.DelayForOrdinary(time.GetUtcNow());
                    if (wait <= TimeSpan.Zero)
                    {
                        _ordinary.Reader.TryRead(out _);
                        await WriteAsync(connection, next, cancellationToken);
                        continue;
                    }

                    GatewayLog.LogSendThrottled(logger, wait.TotalMilliseconds);
                    await connection.WaitForSignalAsync(time, wait, cancellationToken);
                    continue;
                }

                await connection.WaitForSignalAsync(time, Timeout.InfiniteTimeSpan, cancellationToken);
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
            GatewayLog.LogSendLoopFailed(logger, ex);
            connection.End(new ConnectionOutcome(GatewayCloseAction.Resume, "send loop failed") { ClientCloses = true });
        }
    }

    private async Task WriteAsync(GatewayConnection connection, OutgoingFrame frame, CancellationToken cancellationToken)
    {
        await connection.SendLock.WaitAsync(cancellationToken);
        // Counted as the frame goes out, not once the write has completed: the answer (READY to an Identify) can be read
        // and handled before this method resumes, and what follows it (the next Identify's 5 s wait) must already see
        // this one. Under CPU starvation the late count fell after a test had moved the clock, and the next Identify
        // waited on a clock nobody moved. A frame that fails to go out ends the connection, so counting it costs nothing.
        _limiter.Record(time.GetUtcNow());
        if (frame.Op == GatewayOpcodes.Identify)
            _identifyGate.RecordIdentify();
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

        frame.Completion?.TrySetResult();
    }
}

/// <summary>Gateway opcodes the client sends or handles (Discord, "Opcodes and Status Codes").</summary>
internal static class GatewayOpcodes
{
    public const int Dispatch = 0;
    public const int Heartbeat = 1;
    public const int Identify = 2;
    public const int Resume = 6;
    public const int Reconnect = 7;
    public const int InvalidSession = 9;
    public const int Hello = 10;
    public const int HeartbeatAck = 11;
}
