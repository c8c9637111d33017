using Docker.DotNet.Models;
using Dockhand.Containers.Engine;

namespace Dockhand.Containers.Swarm;

/// <summary>What one node's daemon does about no-new-privileges when a container does not ask for it.</summary>
/// <param name="Enforced">True or false as measured; null when it could not be measured (the reason is in <paramref name="Detail"/>).</param>
public sealed record NodeNoNewPrivileges(string Node, bool? Enforced, string Detail);

/// <summary>
/// Whether a node's dockerd sets no-new-privileges on containers that do not ask for it (<c>"no-new-privileges": true</c>
/// in its daemon.json). The API does not say (<c>GET /info</c> lists no such option), and an API 1.41 service spec cannot
/// ask for it, so the only trustworthy answer is a container's own <c>/proc/self/status</c>: this runs one short-lived
/// container of an image the node already holds, with no privileges option of its own, reads its NoNewPrivs line from its
/// output, and removes it.
/// </summary>
internal static class NoNewPrivilegesProbe
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public const string ProbeLabel = "dockhand.probe";

    public static async Task<NodeNoNewPrivileges> CheckAsync(this DockerContainerRuntime engine, string node, string image, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        if (!await engine.ImageExistsAsync(image, cancellationToken))
            return new(node, null, $"not measured: the image {image} is not on node {node} (the probe runs only an image the node already holds)");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Limit);
        string? id = null;
        try
        {
            var created = await engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = image,
                Entrypoint = ["cat", "/proc/self/status"],
                Cmd = [],
                Labels = new Dictionary<string, string>(labels) { [ProbeLabel] = "no-new-privileges" },
                NetworkDisabled = true,
                HostConfig = new HostConfig { NetworkMode = "none", CapDrop = ["ALL"] },
            }, timeout.Token);
            id = created.ID;
            await engine.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), timeout.Token);
            await engine.Client.Containers.WaitContainerAsync(id, timeout.Token);
            using var logs = await engine.Client.Containers.GetContainerLogsAsync(id, new ContainerLogsParameters { ShowStdout = true }, timeout.Token);
            var (stdout, _) = await logs.ReadOutputToEndAsync(timeout.Token);
            var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("NoNewPrivs:", StringComparison.Ordinal))?.Trim();
            return line switch
            {
                null => new(node, null, $"not measured: a container of {image} printed no NoNewPrivs line"),
                _ when line.EndsWith('1') => new(node, true, "its dockerd sets no-new-privileges on every container (a probe container that did not ask for it has NoNewPrivs 1)"),
                _ => new(node, false, $"its dockerd does not set no-new-privileges (a probe container has {line}); add \"no-new-privileges\": true to that node's daemon.json and restart its dockerd"),
            };
        }
        catch (Exception e) when (engine.Translate(e, cancellationToken) is { } translated)
        {
            return new(node, null, $"not measured: {translated.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(node, null, $"not measured: the probe container did not finish within {Limit.TotalSeconds:0} s");
        }
        finally
        {
            if (id is not null)
            {
                try
                {
                    await engine.Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
                }
                catch (Exception e) when (engine.Translate(e, CancellationToken.None) is not null)
                {
                    // Gone already, or the node stopped answering: the probe label says what it was.
                }
            }
        }
    }
}
