using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers.Swarm;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>
/// The three-node Swarm of scripts/swarm-testbed.sh, brought up once for the Swarm tests (about 15 s) and taken down at
/// the end (about 10 s) when this fixture started it; a test bed that was already up is left up (a developer re-running
/// the tests keeps theirs). At the end every service and home volume labelled with this run's id is removed either way.
/// A collection fixture (one test bed for every Swarm test class, which then run one after another) rather than a step
/// in scripts/test.sh: only these tests pay for it, and running them alone works.
/// </summary>
public sealed class SwarmTestBed : IAsyncLifetime
{
    public const string StateDirectory = "/tmp/dockhand-swarm";
    public const string Manager = "dockhand-swarm-manager";
    public static readonly IReadOnlyList<string> Workers = ["dockhand-swarm-worker-1", "dockhand-swarm-worker-2"];

    private bool _started;

    public string RunId { get; } = "sw-" + Guid.NewGuid().ToString("N")[..10];

    public Uri ManagerHost { get; } = Socket("manager");

    /// <summary>SWARM_NODE_ENDPOINTS for all three nodes.</summary>
    public IReadOnlyDictionary<string, Uri> Endpoints { get; } = new Dictionary<string, Uri>(StringComparer.Ordinal)
    {
        [Manager] = Socket("manager"),
        ["dockhand-swarm-worker-1"] = Socket("worker-1"),
        ["dockhand-swarm-worker-2"] = Socket("worker-2"),
    };

    /// <summary>worker-2's TLS listener and the client certificate directory (ca.pem, cert.pem, key.pem) the script made.</summary>
    public Uri Worker2Tcp { get; } = new("tcp://10.213.0.13:2376");

    public string TlsClientPath { get; } = Path.Combine(StateDirectory, "tls", "client");

    /// <summary>The run's own client to the manager, to look behind the runtime's back.</summary>
    public IDockerClient ManagerClient { get; private set; } = null!;

    /// <summary>How long `up` took (zero when the test bed was already up).</summary>
    public TimeSpan UpTime { get; private set; }

    private static Uri Socket(string node) => new($"unix://{StateDirectory}/{node}/docker.sock");

    public IDockerClient NodeClient(string hostname) => new DockerClientBuilder().WithEndpoint(Endpoints[hostname]).Build();

    public async ValueTask InitializeAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        var alreadyUp = File.Exists(Path.Combine(StateDirectory, "testbed.state"));
        var (code, output) = await RunScriptAsync("up");
        if (code != 0)
            throw new InvalidOperationException($"scripts/swarm-testbed.sh up failed ({code}): {output.Trim()}. It needs root, iproute2 and the test images (scripts/test.sh installs and builds them).");
        _started = !alreadyUp;
        UpTime = _started ? stopwatch.Elapsed : TimeSpan.Zero;
        ManagerClient = new DockerClientBuilder().WithEndpoint(ManagerHost).Build();
    }

    public async ValueTask DisposeAsync()
    {
        if (_started && Environment.GetEnvironmentVariable("DOCKHAND_SWARM_KEEP") != "1")
        {
            ManagerClient.Dispose();
            await RunScriptAsync("down");
            return;
        }
        // Left up: remove this run's services, then (once their containers are gone) this run's volumes on every node.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var byRun = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"dockhand.test={RunId}"] = true } };
        foreach (var service in await ManagerClient.Swarm.ListServicesAsync(new ServiceListParameters { Filters = byRun }, limit.Token))
            await ManagerClient.Swarm.RemoveServiceAsync(service.ID, limit.Token);
        foreach (var hostname in Endpoints.Keys)
        {
            using var node = NodeClient(hostname);
            while ((await node.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = byRun }, limit.Token)).Count > 0)
                await Task.Delay(100, limit.Token);
            foreach (var volume in (await node.Volumes.ListAsync(new VolumesListParameters { Filters = byRun }, limit.Token)).Volumes ?? [])
                await node.Volumes.RemoveAsync(volume.Name, force: true, limit.Token);
        }
        ManagerClient.Dispose();
    }

    /// <summary>The node's name in the script (worker-1) from its hostname (dockhand-swarm-worker-1).</summary>
    private static string ScriptNode(string hostname) => hostname["dockhand-swarm-".Length..];

    /// <summary>SIGKILLs a worker's dockerd, containerd and containers (a machine that died); its data stays.</summary>
    public async Task CrashNodeAsync(string hostname)
    {
        var (code, output) = await RunScriptAsync("crash-node", ScriptNode(hostname));
        Assert.True(code == 0, $"crash-node {hostname} failed ({code}): {output}");
    }

    public async Task StartNodeAsync(string hostname)
    {
        var (code, output) = await RunScriptAsync("start-node", ScriptNode(hostname));
        Assert.True(code == 0, $"start-node {hostname} failed ({code}): {output}");
    }

    /// <summary>Waits until the manager reports the node in <paramref name="state"/> (ready, down); the test bed's heartbeat is 1 s.</summary>
    public async Task WaitForNodeStateAsync(string hostname, string state, TimeSpan timeout)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(timeout);
        string? last = null;
        try
        {
            while (true)
            {
                var node = (await ManagerClient.Swarm.ListNodesAsync(limit.Token)).Single(n => n.Description!.Hostname == hostname);
                last = node.Status?.State;
                if (last == state)
                    return;
                await Task.Delay(100, limit.Token);
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"node {hostname} was still {last}, not {state}, after {timeout.TotalSeconds:0} s");
        }
    }

    public static async Task<(int Code, string Output)> RunScriptAsync(params string[] arguments)
    {
        var script = Path.Combine(RepositoryRoot(), "scripts", "swarm-testbed.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Dockhand.slnx")))
                return directory.FullName;
        throw new InvalidOperationException("Dockhand.slnx not found above the test binaries");
    }

    /// <summary>
    /// The options a Swarm harness uses: the plain harness's limits, scoped by this run's label, no network (the node's
    /// default bridge), a home volume at /root, and the Swarm as backend.
    /// </summary>
    public ContainerOptions Options(string directory, string scope) => new()
    {
        DatabasePath = Path.Combine(directory, "containers.db"),
        DockerHost = ManagerHost,
        DefaultImage = EngineFixture.TestImage,
        MemoryLimitBytes = 64L * 1024 * 1024,
        NanoCpus = 500_000_000,
        PidsLimit = 64,
        Network = "none",
        ExtraLabels = new Dictionary<string, string> { ["dockhand.test"] = RunId, [Harness.ScopeLabel] = scope },
    };

    /// <summary>The settings of a Dockhand process (CLI or <c>dockhand run</c>) on the test bed, with its database in <paramref name="directory"/>.</summary>
    public Dictionary<string, string?> ProcessSettings(string directory) => new()
    {
        ["DATABASE_PATH"] = Path.Combine(directory, "containers.db"),
        ["DOCKER_HOST"] = ManagerHost.ToString(),
        ["DEFAULT_IMAGE"] = EngineFixture.TestImage,
        ["CONTAINER_EXTRA_LABELS"] = $"dockhand.test={RunId}",
        ["CONTAINER_NETWORK"] = "none",
        ["CONTAINER_MEMORY_LIMIT"] = "64m",
        ["CONTAINER_BACKEND"] = "swarm",
        ["SWARM_NODE_ENDPOINTS"] = string.Join(',', Endpoints.Select(e => $"{e.Key}={e.Value}")),
    };

    public SwarmSettings Settings(IReadOnlyDictionary<string, Uri>? endpoints = null)
        => new() { Backend = ContainerBackend.Swarm, NodeEndpoints = endpoints ?? Endpoints };
}

[CollectionDefinition(Name)]
public sealed class SwarmCollection : ICollectionFixture<SwarmTestBed>
{
    public const string Name = "Swarm test bed";
}
