using System.Reflection;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Dockhand.Testing;

/// <summary>
/// The shared Docker engine (DOCKER_HOST, else /var/run/docker.sock), which other engineers' tests use at the same time.
/// Everything a test run creates carries <c>dockhand.test=&lt;RunId&gt;</c>; disposal removes exactly those containers,
/// volumes and networks, and nothing else. Start-up fails, naming the setup script, when no engine or test image answers.
/// </summary>
public sealed class EngineFixture : IAsyncLifetime
{
    /// <summary>The label every object a test run creates carries, with <see cref="RunId"/> as its value.</summary>
    public const string RunLabel = "dockhand.test";

    /// <summary>The small test image (busybox), built locally by scripts/test-images.sh.</summary>
    public const string TestImage = "dockhand-test/busybox:1";

    /// <summary>The test image with bash (Debian), built locally by scripts/test-images.sh.</summary>
    public const string BashImage = "dockhand-test/debian-bash:bookworm";

    private static readonly TimeSpan CleanupLimit = TimeSpan.FromSeconds(60);
    private IDockerClient? _client;

    /// <summary>This run's label value, named for the test project (e.g. <c>containers-1a2b…</c>) so leftovers say whose they are.</summary>
    public string RunId { get; } = RunPrefix() + "-" + Guid.NewGuid().ToString("N")[..12];

    public Uri DockerHost { get; } = new(Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : "unix:///var/run/docker.sock");

    /// <summary>The run's own Docker client, to set the scene and look behind Dockhand's back (never the runtime's own).</summary>
    public IDockerClient Client => _client ??= new DockerClientBuilder().WithEndpoint(DockerHost).Build();

    public async ValueTask InitializeAsync()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await Client.System.PingAsync(timeout.Token);
            await Client.Images.InspectImageAsync(TestImage, timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"No Docker engine with the test image {TestImage} answers at {DockerHost}. Run scripts/test.sh (it starts dockerd and calls scripts/test-images.sh), or scripts/engine.sh and scripts/test-images.sh.", e);
        }
    }

    /// <summary>Creates and starts a container of this run running <c>tail -f /dev/null</c>; returns its full id.</summary>
    /// <param name="name">Set as the <c>dockhand.name</c> label (the engine's name stays random, so runs never collide).</param>
    public async Task<string> StartContainerAsync(string image = BashImage, string? ownerLabel = null, string? name = null, CancellationToken cancellationToken = default)
    {
        var labels = new Dictionary<string, string> { [RunLabel] = RunId };
        if (name is not null)
            labels["dockhand.name"] = name;
        if (ownerLabel is not null)
            labels["dockhand.owner"] = ownerLabel; // never dockhand.managed: other engineers' reconcilers must not see ours
        var created = await Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Cmd = ["tail", "-f", "/dev/null"],
            Labels = labels,
            // No network: these containers need none, and the shared engine's bridge is not ours to rely on.
            HostConfig = new HostConfig { Init = true, NetworkMode = "none" },
        }, cancellationToken);
        await Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
        return created.ID;
    }

    public async Task RemoveContainerAsync(string id, CancellationToken cancellationToken = default)
        => await Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, cancellationToken);

    /// <summary>Every container (running or not) carrying all of <paramref name="labels"/>.</summary>
    public async Task<IList<ContainerListResponse>> ListAsync(IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
        => await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = LabelFilter(labels.Select(l => $"{l.Key}={l.Value}")),
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

    /// <summary>
    /// Force-removes every container, volume and network labelled <c>key=value</c>. Each step gives up after a minute
    /// even if the engine stops answering (the client also carries exec streams, so it has no per-request timeout of its
    /// own); the containers go all at once, so a starved engine (each forced removal waits for a kill) costs one slow
    /// removal, not one per container. Never throws for one already gone.
    /// </summary>
    public async Task RemoveLabelledAsync(string key, string value)
    {
        using var limit = new CancellationTokenSource(CleanupLimit);
        var filter = LabelFilter([$"{key}={value}"]);
        var containers = await Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, limit.Token);
        using var removals = new CancellationTokenSource(CleanupLimit);
        await Task.WhenAll(containers.Select(async container =>
        {
            try
            {
                await Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, removals.Token);
            }
            catch (DockerContainerNotFoundException)
            {
            }
        }));
        limit.CancelAfter(CleanupLimit);
        // Home volumes carry the same labels (CONTAINER_EXTRA_LABELS) and outlive their containers.
        var volumes = await Client.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, limit.Token);
        foreach (var volume in volumes.Volumes ?? [])
            await Client.Volumes.RemoveAsync(volume.Name, force: true, limit.Token);
        // So do instance networks (each test database is its own instance). They must go: the engine has only about 30
        // address pools for bridge networks, and leftovers from earlier runs would use them up.
        foreach (var network in await Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, limit.Token))
            await Client.Networks.DeleteNetworkAsync(network.ID, limit.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RemoveLabelledAsync(RunLabel, RunId);
        }
        finally
        {
            _client?.Dispose();
        }
    }

    private static Dictionary<string, IDictionary<string, bool>> LabelFilter(IEnumerable<string> labels)
        => new() { ["label"] = labels.ToDictionary(l => l, _ => true) };

    /// <summary>"containers" for Dockhand.Containers.Tests, "tests" for Dockhand.Tests.</summary>
    private static string RunPrefix()
    {
        var name = Assembly.GetEntryAssembly()?.GetName().Name ?? "tests";
        var parts = name.Split('.');
        return (parts.Length > 2 ? parts[^2] : parts[^1]).ToLowerInvariant();
    }
}
