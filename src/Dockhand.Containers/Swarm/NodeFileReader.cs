using Docker.DotNet.Models;
using Dockhand.Containers.Engine;

namespace Dockhand.Containers.Swarm;

/// <summary>Reads a small file in a container through its node's engine (an exec of <c>cat</c>, without a TTY).</summary>
internal static class NodeFileReader
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <summary>The file's text; null when the container has no such file (or no <c>cat</c>).</summary>
    public static async Task<string?> ReadFileAsync(this DockerContainerRuntime engine, string containerId, string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var created = await engine.Client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = ["cat", path],
                AttachStdout = true,
                AttachStderr = true,
            }, cancellationToken);
            using var stream = await engine.Client.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { Detach = false }, cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Limit);
            var (stdout, _) = await stream.ReadOutputToEndAsync(timeout.Token);
            var inspect = await engine.Client.Exec.InspectContainerExecAsync(created.ID, cancellationToken);
            return inspect.ExitCode == 0 ? stdout : null;
        }
        catch (Exception e) when (engine.Translate(e, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }
}
