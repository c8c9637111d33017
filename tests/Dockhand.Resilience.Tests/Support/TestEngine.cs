using Docker.DotNet;
using Docker.DotNet.Models;

namespace Dockhand.Resilience.Tests.Support;

/// <summary>
/// A Docker engine seen from the tests. On the shared engine every container a test makes carries
/// <c>dockhand.test=&lt;run id&gt;</c>; <see cref="RemoveLabelledAsync"/> removes exactly those (containers, home volumes and instance networks).
/// </summary>
public sealed class TestEngine : IDisposable
{
    public const string BusyboxImage = "dockhand-test/busybox:1";
    public const string SharedSocket = "unix:///var/run/docker.sock";

    public TestEngine(string endpoint)
    {
        Endpoint = endpoint;
        Client = new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).Build();
    }

    public string Endpoint { get; }

    public IDockerClient Client { get; }

    /// <summary>Fails with a message naming the setup scripts when no engine answers.</summary>
    public async Task EnsureReachableAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await Client.System.PingAsync(timeout.Token);
            await Client.Images.InspectImageAsync(BusyboxImage, timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"No Docker engine with {BusyboxImage} answers on {Endpoint}. Run scripts/engine.sh and scripts/test-images.sh (or .ci/run) first.", e);
        }
    }

    /// <summary>Every container (running or not) carrying all of <paramref name="labels"/>.</summary>
    public async Task<IList<ContainerListResponse>> ListAsync(IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
        => await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = labels.ToDictionary(l => $"{l.Key}={l.Value}", _ => true),
            },
        }, cancellationToken);

    public async Task<bool> ExistsAsync(string id, CancellationToken cancellationToken = default)
    {
        try
        {
            await Client.Containers.InspectContainerAsync(id, cancellationToken);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Force-removes every container labelled <c>key=value</c>. Never throws for one already gone.</summary>
    public async Task RemoveLabelledAsync(string key, string value)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        foreach (var container in await ListAsync(new Dictionary<string, string> { [key] = value }, limit.Token))
        {
            try
            {
                await Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, limit.Token);
            }
            catch (DockerContainerNotFoundException)
            {
            }
        }
        // Home volumes carry the same labels (CONTAINER_EXTRA_LABELS) and outlive their containers.
        var volumes = await Client.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{key}={value}"] = true } },
        });
        foreach (var volume in volumes.Volumes ?? [])
            await Client.Volumes.RemoveAsync(volume.Name, force: true);
        // So do instance networks (each test database is its own instance). They must go: the engine has only about 30
        // address pools for bridge networks, and leftovers from earlier runs would use them up.
        var networks = await Client.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{key}={value}"] = true } },
        }, limit.Token);
        foreach (var network in networks)
            await Client.Networks.DeleteNetworkAsync(network.ID, limit.Token);
    }

    public void Dispose() => Client.Dispose();
}
