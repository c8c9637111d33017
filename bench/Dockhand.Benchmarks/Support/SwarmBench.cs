using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Data.Sqlite;

namespace Dockhand.Benchmarks.Support;

/// <summary>
/// A <c>dockhand run</c> with CONTAINER_BACKEND=swarm on the three-node test bed (scripts/swarm-testbed.sh, which
/// scripts/bench.sh brings up for S1 and S2), fed signed interactions on POST /interactions (the main server holds the
/// loopback gateway), plus clients to the manager and the workers for the anchors. Everything it makes carries the
/// run's bench label and is removed by it at the end.
/// </summary>
internal sealed class SwarmBench : IAsyncDisposable
{
    public const string StateDirectory = "/tmp/dockhand-swarm";

    /// <summary>
    /// Limits (and so reservations) small enough that a run's services fit on the test bed's two workers (each reports
    /// this machine's 2 CPUs): Dockhand's default of 1 CPU would leave room for four. 256 MiB of memory: the test bed's
    /// data roots are on tmpfs, so S2's 64 MiB file counts against the container's memory.
    /// </summary>
    public const string CpuLimit = "0.25";
    public const string MemoryLimit = "256m";
    public static readonly string[] Workers = ["dockhand-swarm-worker-1", "dockhand-swarm-worker-2"];

    private readonly BenchEnvironment _env;
    private readonly Dictionary<string, IDockerClient> _workers;

    private SwarmBench(BenchEnvironment env, DockhandServer server, string databasePath)
    {
        _env = env;
        Server = server;
        DatabasePath = databasePath;
        Manager = new DockerClientBuilder().WithEndpoint(Socket("manager")).Build();
        _workers = Workers.ToDictionary(w => w, w => (IDockerClient)new DockerClientBuilder().WithEndpoint(Socket(NodeName(w))).Build(), StringComparer.Ordinal);
    }

    public DockhandServer Server { get; }

    public string DatabasePath { get; }

    public IDockerClient Manager { get; }

    public IDockerClient Worker(string hostname) => _workers[hostname];

    public static Uri Socket(string node) => new($"unix://{StateDirectory}/{node}/docker.sock");

    private static string NodeName(string hostname) => hostname["dockhand-swarm-".Length..];

    public static async Task<SwarmBench> StartAsync(BenchEnvironment env, string part, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(StateDirectory, "testbed.state")))
            throw new InvalidOperationException("the Swarm test bed is not up: run the Swarm figures through scripts/bench.sh --only S1,S2, which brings it up (scripts/swarm-testbed.sh up)");
        var databasePath = Path.Combine(env.Directory, $"swarm-{part}.db");
        var settings = env.Settings(databasePath);
        // POST /interactions only: the loopback gateway serves the main server.
        settings.Remove("DISCORD_TOKEN");
        settings.Remove("DISCORD_GATEWAY_URL");
        settings["DOCKER_HOST"] = Socket("manager").ToString();
        settings["CONTAINER_BACKEND"] = "swarm";
        settings["SWARM_NODE_ENDPOINTS"] = string.Join(',', new[] { "manager", "worker-1", "worker-2" }.Select(n => $"dockhand-swarm-{n}={Socket(n)}"));
        settings["CONTAINER_NETWORK"] = "none";
        settings["CONTAINER_CPU_LIMIT"] = CpuLimit;
        settings["CONTAINER_MEMORY_LIMIT"] = MemoryLimit;
        settings["CONTAINER_EXTRA_LABELS"] = $"{BenchEnvironment.LabelKey}={env.RunId},bench.part={part}";
        var watch = Stopwatch.StartNew();
        var server = DockhandServer.Start(env.Directory, settings);
        await server.WaitReadyAsync(watch, TimeSpan.FromSeconds(120), cancellationToken);
        return new SwarmBench(env, server, databasePath);
    }

    /// <summary>/create as a signed POST /interactions for a fresh owner; returns (owner, service id, ms until @original said Created).</summary>
    public async Task<(ulong Owner, string ServiceId, double Milliseconds)> CreateAsync(string name, CancellationToken cancellationToken)
    {
        var owner = BenchEnvironment.NextUser();
        var token = _env.NextToken();
        var body = _env.SlashCommand(BenchEnvironment.Invoker, "create", token,
            new Dockhand.Discord.Testing.Rest.TestOption("user", 6, owner.ToString(CultureInfo.InvariantCulture), ResolvedUsername: $"u{owner}"),
            new Dockhand.Discord.Testing.Rest.TestOption("container_name", 3, name)).ToJsonString();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var watch = Stopwatch.StartNew();
        using (var request = _env.Signer.CreateRequest(new Uri(Server.BaseAddress, "/interactions"), body, DateTimeOffset.UtcNow))
        using (var response = await http.SendAsync(request, cancellationToken))
        {
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"POST /interactions answered {(int)response.StatusCode}");
        }
        await _env.WaitForEditAsync(token, "Created", TimeSpan.FromSeconds(120), 10, cancellationToken);
        var elapsed = watch.Elapsed.TotalMilliseconds;
        return (owner, await ServiceIdAsync(owner, cancellationToken), elapsed);
    }

    private async Task<string> ServiceIdAsync(ulong owner, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT container_id FROM containers WHERE discord_user_id = $owner";
        command.Parameters.AddWithValue("$owner", owner.ToString(CultureInfo.InvariantCulture));
        return (string?)await command.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException($"no record for {owner}");
    }

    /// <summary>The running task of a service: its node's hostname and its container id.</summary>
    public async Task<(string Node, string ContainerId)?> RunningTaskAsync(string serviceId, CancellationToken cancellationToken)
    {
        var tasks = await Manager.Tasks.ListAsync(new TasksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [serviceId] = true } },
        }, cancellationToken);
        var running = tasks.FirstOrDefault(t => t.Status?.State == TaskState.Running && t.Status.ContainerStatus?.ContainerID is { Length: > 0 });
        if (running is null)
            return null;
        var node = await Manager.Swarm.InspectNodeAsync(running.NodeID ?? "", cancellationToken);
        return (node.Description?.Hostname ?? "", running.Status!.ContainerStatus!.ContainerID);
    }

    public Task<Uri> IssueLinkAsync(ulong owner, string serviceId, CancellationToken cancellationToken)
        => TerminalLinkIssuer.IssueAsync(DatabasePath, Server.BaseAddress, owner, serviceId, cancellationToken);

    public static JsonObject Settings() => new()
    {
        ["manager"] = Socket("manager").ToString(), ["workers"] = new JsonArray([.. Workers.Select(w => (JsonNode)w)]),
        ["note"] = "three dockerd 20.10 in their own network namespaces on this one machine (scripts/swarm-testbed.sh); the manager is drained",
    };

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        var byRun = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{BenchEnvironment.LabelKey}={_env.RunId}"] = true } };
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            var services = (await Manager.Swarm.ListServicesAsync(new ServiceListParameters { Filters = byRun }, limit.Token)).ToList();
            foreach (var service in services)
                await Manager.Swarm.RemoveServiceAsync(service.ID, limit.Token);
            foreach (var worker in _workers.Values)
            {
                // Volumes go once the services' containers are gone (the Swarm removes them asynchronously).
                while ((await worker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = byRun }, limit.Token)).Count > 0)
                    await Task.Delay(100, limit.Token);
                foreach (var volume in (await worker.Volumes.ListAsync(new VolumesListParameters { Filters = byRun }, limit.Token)).Volumes ?? [])
                    await worker.Volumes.RemoveAsync(volume.Name, force: true, limit.Token);
            }
            Console.Error.WriteLine($"cleanup: removed {services.Count} Swarm service(s) labelled {BenchEnvironment.LabelKey}={_env.RunId} and their volumes");
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or OperationCanceledException)
        {
            Console.Error.WriteLine($"cleanup: Swarm services or volumes labelled {BenchEnvironment.LabelKey}={_env.RunId} not all removed ({e.Message.ReplaceLineEndings(" ")})");
        }
        foreach (var worker in _workers.Values)
            worker.Dispose();
        Manager.Dispose();
    }
}
