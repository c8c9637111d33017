using Docker.DotNet;
using Docker.DotNet.Models;

namespace Dockhand.Terminal.Tests.Support;

/// <summary>
/// The real Docker engine (shared with other engineers' tests). Every container made here carries
/// <c>dockhand.test=&lt;run id&gt;</c> and is removed by that label when the run ends.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public const string BashImage = "dockhand-test/debian-bash:bookworm";
    public const string BusyboxImage = "dockhand-test/busybox:1";

    public string RunId { get; } = "terminal-" + Guid.NewGuid().ToString("N")[..12];

    public IDockerClient Client { get; } = CreateClient(Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock");

    public static IDockerClient CreateClient(string endpoint) => new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).Build();

    public async ValueTask InitializeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Client.System.PingAsync(timeout.Token);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException("No Docker engine answers on /var/run/docker.sock. Run scripts/engine.sh and scripts/test-images.sh (or .ci/run) first.", e);
        }
    }

    /// <summary>Creates and starts a container running <c>tail -f /dev/null</c>; returns its full id.</summary>
    /// <param name="name">Set as the <c>dockhand.name</c> label (the engine's name stays random, so runs never collide).</param>
    public async Task<string> StartContainerAsync(string image = BashImage, string? ownerLabel = null, string? name = null, CancellationToken cancellationToken = default)
    {
        var labels = new Dictionary<string, string> { ["dockhand.test"] = RunId };
        if (name is not null)
            labels["dockhand.name"] = name;
        if (ownerLabel is not null)
            labels["dockhand.owner"] = ownerLabel; // never dockhand.managed: other engineers' reconcilers must not see ours
        var created = await Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Cmd = ["tail", "-f", "/dev/null"],
            Labels = labels,
            // No network: a terminal needs none, and the shared engine's bridge is not ours to rely on.
            HostConfig = new HostConfig { Init = true, NetworkMode = "none" },
        }, cancellationToken);
        await Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
        return created.ID;
    }

    public async Task RemoveContainerAsync(string id, CancellationToken cancellationToken = default)
        => await Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        // Clean-up ends within a minute even if the engine stops answering (this client also carries exec streams, so it
        // has no per-request timeout of its own).
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var mine = await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"dockhand.test={RunId}"] = true } },
        }, limit.Token);
        foreach (var container in mine)
        {
            try
            {
                await Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, limit.Token);
            }
            catch (DockerContainerNotFoundException)
            {
            }
        }
        Client.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "docker";
}
