using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers.Engine;

namespace Dockhand.Containers.Tests.Infrastructure;

/// <summary>
/// One per test run: checks the engine and the local test image, and at the end removes every container, volume and network labelled
/// with this run's <c>dockhand.test</c> value (and nothing else: other engineers' tests share the engine).
/// </summary>
public sealed class EngineFixture : IAsyncLifetime
{
    public const string TestImage = "dockhand-test/busybox:1";

    public string RunId { get; } = "ct-" + Guid.NewGuid().ToString("N")[..10];

    public Uri DockerHost { get; } = new(Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : "unix:///var/run/docker.sock");

    /// <summary>The runtime under test, on its own (no database): for checks of the engine itself.</summary>
    internal DockerContainerRuntime Engine { get; private set; } = null!;

    /// <summary>The run's own Docker client, to set the scene and look behind the runtime's back (never the runtime's).</summary>
    public IDockerClient Docker { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Engine = new DockerContainerRuntime(new ContainerOptions { DockerHost = DockerHost });
        Docker = new DockerClientBuilder().WithEndpoint(DockerHost).Build();
        var health = await Engine.PingAsync();
        if (!health.Reachable)
            throw new InvalidOperationException($"No Docker engine answers at {DockerHost} ({health.Error}). Run scripts/test.sh, which installs and starts dockerd and builds the test images.");
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        if (!await Engine.ImageExistsAsync(TestImage, limit.Token))
            throw new InvalidOperationException($"The local test image {TestImage} is missing. Run scripts/test.sh (it calls scripts/test-images.sh).");
    }

    public async ValueTask DisposeAsync()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var leftovers = await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"dockhand.test={RunId}"] = true } },
        }, limit.Token);
        foreach (var container in leftovers)
            await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, limit.Token);
        var volumes = await Docker.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"dockhand.test={RunId}"] = true } },
        }, limit.Token);
        foreach (var volume in volumes.Volumes ?? [])
            await Docker.Volumes.RemoveAsync(volume.Name, force: true, limit.Token);
        var networks = await Docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"dockhand.test={RunId}"] = true } },
        }, limit.Token);
        foreach (var network in networks)
            await Docker.Networks.DeleteNetworkAsync(network.ID, limit.Token);
        Engine.Dispose();
        Docker.Dispose();
    }
}
