using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Dockhand.Terminal;

/// <summary>What the container is doing, as far as a terminal cares.</summary>
internal enum ContainerPresence
{
    Running,
    Stopped,
    Gone,
}

/// <summary>
/// The docker exec side of a terminal: choosing the shell, starting it with a TTY, resizing, and making sure it ends.
/// <para>
/// Killing: the Engine API has no "kill exec". Every terminal exec gets a random marker in its environment
/// (<c>DOCKHAND_TERMINAL=&lt;tag&gt;</c>), which its children inherit. To end a session we close the stream, then
/// exec-inspect; if it still runs, a second, short exec in the same container kills every process whose
/// <c>/proc/PID/environ</c> carries the marker (shell builtins plus <c>tr</c> and <c>grep</c>, present in busybox and Debian alike),
/// and exec-inspect is polled until it reports the exec stopped. This works wherever the engine is (a remote
/// DOCKER_HOST, another PID namespace), unlike killing the host PID that exec-inspect reports.
/// </para>
/// </summary>
internal sealed class TerminalExec(IDockerClient docker, ILogger logger)
{
    public const string MarkerVariable = "DOCKHAND_TERMINAL";
    public const string OwnerLabel = Dockhand.Containers.ContainerLabels.Owner;
    public const string NameLabel = Dockhand.Containers.ContainerLabels.Name;

    public IDockerClient Docker => docker;

    /// <summary><c>/bin/bash</c> when the container has it, else <c>/bin/sh</c>. Uses the archive stat API, which needs no shell.</summary>
    public async Task<string> ChooseShellAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            var response = await docker.Containers.GetArchiveFromContainerAsync(containerId, new ContainerPathStatParameters { Path = "/bin/bash" }, statOnly: true, cancellationToken);
            response.Stream?.Dispose();
            return "/bin/bash";
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return "/bin/sh";
        }
    }

    public async Task<(string ExecId, MultiplexedStream Stream)> StartShellAsync(string containerId, string shell, string marker, CancellationToken cancellationToken)
    {
        var created = await docker.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
        {
            Cmd = [shell],
            TTY = true,
            AttachStdin = true,
            AttachStdout = true,
            AttachStderr = true,
            Env = ["TERM=xterm-256color", "COLORTERM=truecolor", "LANG=C.UTF-8", $"{MarkerVariable}={marker}"],
        }, cancellationToken);
        var stream = await docker.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { TTY = true, Detach = false }, cancellationToken);
        return (created.ID, stream);
    }

    public Task ResizeAsync(string execId, int columns, int rows, CancellationToken cancellationToken)
        => docker.Exec.ResizeExecTtyAsync(execId, new ContainerResizeParameters { Width = columns, Height = rows }, cancellationToken);

    public async Task<ContainerPresence> InspectContainerAsync(string containerId, CancellationToken cancellationToken)
        => (await InspectOwnershipAsync(containerId, cancellationToken)).Presence;

    /// <summary>Presence, the <c>dockhand.owner</c> label (if the container carries one) and the container's name
    /// (the <c>dockhand.name</c> label Dockhand sets, else the engine's name; null when gone).</summary>
    public async Task<(ContainerPresence Presence, string? OwnerLabel, string? Name)> InspectOwnershipAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            var inspect = await docker.Containers.InspectContainerAsync(containerId, cancellationToken);
            string? owner = null;
            string? name = null;
            inspect.Config?.Labels?.TryGetValue(OwnerLabel, out owner);
            inspect.Config?.Labels?.TryGetValue(NameLabel, out name);
            name ??= inspect.Name?.TrimStart('/');
            return (inspect.State?.Running == true ? ContainerPresence.Running : ContainerPresence.Stopped, owner, name);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return (ContainerPresence.Gone, null, null);
        }
    }

    /// <summary>Exec-inspect: null when the exec (or its container) no longer exists.</summary>
    public async Task<ContainerExecInspectResponse?> InspectExecAsync(string execId, CancellationToken cancellationToken)
    {
        try
        {
            return await docker.Exec.InspectContainerExecAsync(execId, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Makes sure the exec has stopped; kills its processes inside the container if it has not. True when it has ended.</summary>
    public async Task<bool> EnsureEndedAsync(string containerId, string execId, string shell, string marker, CancellationToken cancellationToken)
    {
        // Give the shell a moment to notice the closed stream on its own.
        for (var i = 0; i < 5; i++)
        {
            var state = await InspectExecAsync(execId, cancellationToken);
            if (state is null || !state.Running)
                return true;
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        Log.ExecKilled(logger, execId, containerId);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await KillMarkedProcessesAsync(containerId, shell, marker, cancellationToken);
            for (var i = 0; i < 20; i++)
            {
                var state = await InspectExecAsync(execId, cancellationToken);
                if (state is null || !state.Running)
                    return true;
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
        }
        Log.ExecSurvived(logger, execId, containerId);
        return false;
    }

    private async Task KillMarkedProcessesAsync(string containerId, string shell, string marker, CancellationToken cancellationToken)
    {
        // The marker is hex we generated, so it is safe inside the script. This exec does not carry the marker itself.
        // environ is NUL-separated; busybox grep stops at a NUL, so turn NULs into newlines first.
        var script = $"for p in /proc/[0-9]*; do if tr '\\000' '\\n' < \"$p/environ\" 2>/dev/null | grep -qx '{MarkerVariable}={marker}'; then kill -9 \"${{p#/proc/}}\" 2>/dev/null; fi; done; exit 0";
        try
        {
            var created = await docker.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = [shell, "-c", script],
                AttachStdout = true,
                AttachStderr = true,
            }, cancellationToken);
            using var stream = await docker.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { Detach = false }, cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await stream.ReadOutputToEndAsync(timeout.Token);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // The container is gone or stopped: its processes are gone with it.
        }
    }
}
