using System.Runtime.InteropServices;
using Docker.DotNet;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers.Engine;

/// <summary>
/// A <c>docker exec</c> with a TTY, attached (<see cref="IShellProcess"/>).
/// <para>
/// Ending it: the Engine API has no "kill exec". Every shell gets a random marker in its environment
/// (<c>DOCKHAND_TERMINAL=&lt;tag&gt;</c>), which its children inherit. <see cref="EndAsync"/> closes the stream, then
/// exec-inspects; if it still runs, a second, short exec in the same container kills every process whose
/// <c>/proc/PID/environ</c> carries the marker (shell builtins plus <c>tr</c> and <c>grep</c>, present in busybox and
/// Debian alike), and exec-inspect is polled until it reports the exec stopped. This works wherever the engine is (a
/// remote DOCKER_HOST, another PID namespace), unlike killing the host PID that exec-inspect reports.
/// </para>
/// </summary>
internal sealed partial class DockerShellProcess(DockerContainerRuntime runtime, string containerId, string execId, string shell, string marker,
    MultiplexedStream stream, ILogger logger) : IShellProcess
{
    public const string MarkerVariable = "DOCKHAND_TERMINAL";

    private int _closed;

    public string Id => execId;

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // The caller's buffer is an array (the terminal's read buffer): read straight into it, no copy.
        if (!MemoryMarshal.TryGetArray<byte>(buffer, out var segment))
            throw new ArgumentException("The buffer must be backed by an array.", nameof(buffer));
        try
        {
            var read = await stream.ReadOutputAsync(segment.Array!, segment.Offset, segment.Count, cancellationToken);
            return read.EOF ? 0 : read.Count;
        }
        catch (Exception e) when (runtime.Translate(e, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> input, CancellationToken cancellationToken = default)
    {
        if (!MemoryMarshal.TryGetArray(input, out var segment))
            throw new ArgumentException("The input must be backed by an array.", nameof(input));
        try
        {
            await stream.WriteAsync(segment.Array!, segment.Offset, segment.Count, cancellationToken);
        }
        catch (Exception e) when (runtime.Translate(e, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public Task ResizeAsync(int columns, int rows, CancellationToken cancellationToken = default)
        => runtime.ResizeExecAsync(execId, columns, rows, cancellationToken);

    public Task<ShellState?> InspectAsync(CancellationToken cancellationToken = default)
        => runtime.InspectExecAsync(execId, cancellationToken);

    public async Task<bool> EndAsync(CancellationToken cancellationToken = default)
    {
        Close();
        // Give the shell a moment to notice the closed stream on its own.
        for (var i = 0; i < 5; i++)
        {
            if (await InspectAsync(cancellationToken) is not { Running: true })
                return true;
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        LogExecKilled(logger, execId, containerId);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await KillMarkedProcessesAsync(cancellationToken);
            for (var i = 0; i < 20; i++)
            {
                if (await InspectAsync(cancellationToken) is not { Running: true })
                    return true;
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
        }
        LogExecSurvived(logger, execId, containerId);
        return false;
    }

    private async Task KillMarkedProcessesAsync(CancellationToken cancellationToken)
    {
        // The marker is hex we generated, so it is safe inside the script. This exec does not carry the marker itself.
        // environ is NUL-separated; busybox grep stops at a NUL, so turn NULs into newlines first.
        var script = $"for p in /proc/[0-9]*; do if tr '\\000' '\\n' < \"$p/environ\" 2>/dev/null | grep -qx '{MarkerVariable}={marker}'; then kill -9 \"${{p#/proc/}}\" 2>/dev/null; fi; done; exit 0";
        try
        {
            await runtime.RunToEndAsync(containerId, [shell, "-c", script], TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (EngineRefusedException e) when (e.Kind is EngineRefusal.NotFound or EngineRefusal.Conflict)
        {
            // The container is gone or stopped: its processes are gone with it.
        }
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
            stream.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 2071, Level = LogLevel.Information, Message = "Exec {ExecId} in container {ContainerId} was still running after its session ended; killing its processes")]
    private static partial void LogExecKilled(ILogger logger, string execId, string containerId);

    [LoggerMessage(EventId = 2072, Level = LogLevel.Error, Message = "Exec {ExecId} in container {ContainerId} is still running after the kill attempt")]
    private static partial void LogExecSurvived(ILogger logger, string execId, string containerId);
}
