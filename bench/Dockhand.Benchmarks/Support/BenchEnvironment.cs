using System.Globalization;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Discord.Testing.Gateway;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Data.Sqlite;

namespace Dockhand.Benchmarks.Support;

/// <summary>
/// What every benchmark shares: the run id (label <c>dockhand.bench=&lt;run id&gt;</c> on everything created), a work
/// directory, the loopback Discord servers (REST, gateway, request signer), a raw Docker client, and the main
/// <c>dockhand run</c> process once started.
/// </summary>
internal sealed class BenchEnvironment : IAsyncDisposable
{
    public const string Image = "dockhand-test/busybox:1";
    public const string Token = "bench-bot-token";
    public const ulong GuildId = 1_000_000_000_000_000_777;
    public const ulong Invoker = 1_150_000_000_000_000_001;
    public const ulong Stranger = 1_150_000_000_000_000_002;
    public const string LabelKey = "dockhand.bench";

    private static long s_nextUser = 1_160_000_000_000_000_000 + Random.Shared.Next(0, 1_000_000) * 10_000L;
    private int _tokens;

    private BenchEnvironment(string runId, string directory, LoopbackDiscordRestServer rest, LoopbackDiscordGateway gateway)
    {
        RunId = runId;
        Directory = directory;
        Rest = rest;
        Gateway = gateway;
    }

    public string RunId { get; }

    public string Directory { get; }

    public LoopbackDiscordRestServer Rest { get; }

    public LoopbackDiscordGateway Gateway { get; }

    public InteractionSigner Signer { get; } = new();

    public IDockerClient Docker { get; } = new DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).Build();

    public DockhandServer? Server { get; private set; }

    /// <summary>
    /// Environment variables (<c>--server-env K=V</c>) every <c>dockhand run</c> child gets on top of <see cref="Settings"/>,
    /// e.g. DOTNET_gcServer=1: runtime settings change the server without changing src/.
    /// </summary>
    public Dictionary<string, string> ServerEnvironment { get; } = [];

    /// <summary>
    /// With <c>--trace-server</c>: the relay every <c>dockhand run</c> child reaches the engine through, so P1 can show the
    /// server's own engine requests during a <c>/create</c>. Each request then costs a relay hop, so a run with it is
    /// for finding where time goes, not for the table.
    /// </summary>
    public EngineTracer? ServerTracer { get; private set; }

    public void TraceServerEngine()
    {
        ServerTracer = new EngineTracer(Path.Combine(Directory, "server-trace.sock"));
        ServerEnvironment["DOCKER_HOST"] = ServerTracer.Endpoint;
    }

    public string DatabasePath => Path.Combine(Directory, "main.db");

    public Dictionary<string, string> Labels => new() { [LabelKey] = RunId };

    public static async Task<BenchEnvironment> StartAsync(CancellationToken cancellationToken)
    {
        var runId = $"{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
        var directory = System.IO.Directory.CreateTempSubdirectory("dockhand-bench-").FullName;
        var rest = await LoopbackDiscordRestServer.StartAsync(Token, cancellationToken: cancellationToken);
#pragma warning disable CA2000 // Disposed if it fails to start; else the environment owns it and disposes it with itself.
        var gateway = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions
        {
            Token = Token,
            ApplicationId = rest.ApplicationId.ToString(CultureInfo.InvariantCulture),
            // Several cold starts identify in a row: do not make them wait for max_concurrency.
            MaxConcurrency = 16,
        });
        try
        {
            await gateway.StartAsync(cancellationToken);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
        rest.GatewayUrl = gateway.Url;
        return new BenchEnvironment(runId, directory, rest, gateway);
#pragma warning restore CA2000
    }

    public static ulong NextUser() => (ulong)Interlocked.Increment(ref s_nextUser);

    public string NextToken() => $"bench-{RunId}-{Interlocked.Increment(ref _tokens).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The settings of a production-like <c>dockhand run</c>: gateway and HTTP endpoint, loopback Discord, local engine.</summary>
    public Dictionary<string, string> Settings(string databasePath) => new Dictionary<string, string>
    {
        ["DISCORD_TOKEN"] = Token,
        ["DISCORD_API_BASE_URL"] = Rest.ApiBaseUrl.ToString(),
        ["DISCORD_GATEWAY_URL"] = Gateway.Url.ToString(),
        ["DISCORD_APPLICATION_ID"] = Rest.ApplicationId.ToString(CultureInfo.InvariantCulture),
        ["DISCORD_PUBLIC_KEY"] = Signer.PublicKeyHex,
        ["DISCORD_GUILD_ID"] = GuildId.ToString(CultureInfo.InvariantCulture),
        ["AUTHORIZED_USERS"] = Invoker.ToString(CultureInfo.InvariantCulture),
        ["DATABASE_PATH"] = databasePath,
        ["DOCKER_HOST"] = "unix:///var/run/docker.sock",
        ["DEFAULT_IMAGE"] = Image,
        // bench.part keeps the bot's reconciler away from the containers the in-process service makes (and the reverse).
        ["CONTAINER_EXTRA_LABELS"] = $"{LabelKey}={RunId},bench.part=bot",
        // Warning, not Information: a console line per request would measure the console, not Dockhand.
        ["Logging__LogLevel__Default"] = "Warning",
    }.Concat(ServerEnvironment).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    /// <summary>Starts the main server and waits for /health and the gateway session.</summary>
    public async Task<DockhandServer> StartMainServerAsync(CancellationToken cancellationToken)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Server = DockhandServer.Start(Directory, Settings(DatabasePath));
        await Server.WaitReadyAsync(watch, TimeSpan.FromSeconds(90), cancellationToken);
        await Gateway.WaitForSessionAsync(TimeSpan.FromSeconds(60), cancellationToken);
        return Server;
    }

    /// <summary>
    /// Stops the main server and starts it again on the same database with <paramref name="extra"/> on top of the
    /// settings (P3env's runtime variations); waits for /health and the gateway session.
    /// </summary>
    public async Task<DockhandServer> RestartMainServerAsync(IReadOnlyDictionary<string, string> extra, CancellationToken cancellationToken)
    {
        if (Server is not null)
            await Server.DisposeAsync();
        var settings = Settings(DatabasePath);
        foreach (var (key, value) in extra)
            settings[key] = value;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Server = DockhandServer.Start(Directory, settings);
        await Server.WaitReadyAsync(watch, TimeSpan.FromSeconds(90), cancellationToken);
        await Gateway.WaitForSessionAsync(TimeSpan.FromSeconds(60), cancellationToken);
        return Server;
    }

    public JsonObject SlashCommand(ulong user, string command, string token, params TestOption[] options)
        => InteractionPayloads.SlashCommand(Rest.ApplicationId, token, user, command, options, GuildId);

    /// <summary>The last PATCH @original for <paramref name="token"/> whose body contains <paramref name="marker"/>, or null.</summary>
    public RecordedRequest? FindEdit(string token, string marker)
        => Rest.RequestsTo(LoopbackDiscordRestServer.Routes.EditOriginal)
            .LastOrDefault(r => r.Path.Contains(token, StringComparison.Ordinal) && r.Body.Contains(marker, StringComparison.Ordinal));

    /// <summary>Polls (every <paramref name="pollMs"/> ms) until an edit with <paramref name="marker"/> arrives; throws with the latest edit otherwise.</summary>
    public async Task<RecordedRequest> WaitForEditAsync(string token, string marker, TimeSpan timeout, int pollMs = 2, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (FindEdit(token, marker) is { } edit)
                return edit;
            await Task.Delay(pollMs, cancellationToken);
        }
        var last = Rest.RequestsTo(LoopbackDiscordRestServer.Routes.EditOriginal).LastOrDefault(r => r.Path.Contains(token, StringComparison.Ordinal));
        throw new TimeoutException($"no @original edit with '{marker}' within {timeout.TotalSeconds} s; last edit: {last?.Body ?? "(none)"}");
    }

    /// <summary>/create through the gateway for a fresh owner; returns the owner and the container id once @original says so.</summary>
    public async Task<(ulong Owner, string ContainerId)> CreateThroughBotAsync(string name, CancellationToken cancellationToken)
    {
        var owner = NextUser();
        var token = NextToken();
        await Gateway.DispatchInteractionAsync(SlashCommand(Invoker, "create", token,
            new TestOption("user", 6, owner.ToString(CultureInfo.InvariantCulture), ResolvedUsername: $"u{owner}"),
            new TestOption("container_name", 3, name)).ToJsonString(), cancellationToken);
        await WaitForEditAsync(token, "Created", TimeSpan.FromSeconds(60), 10, cancellationToken);
        return (owner, await ContainerIdAsync(owner, cancellationToken));
    }

    public async Task<string> ContainerIdAsync(ulong owner, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT container_id FROM containers WHERE discord_user_id = $owner";
        command.Parameters.AddWithValue("$owner", owner.ToString(CultureInfo.InvariantCulture));
        return (string?)await command.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException($"no record for {owner}");
    }

    /// <summary>
    /// Force-removes every container carrying all of <paramref name="labels"/> (each "key=value"); returns how many.
    /// The engine can refuse a removal while it is busy ("could not kill running container"): retries, and says what is left.
    /// </summary>
    public async Task<int> RemoveContainersAsync(IReadOnlyList<string> labels)
    {
        var removed = 0;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            IList<ContainerListResponse> mine;
            try
            {
                mine = await Docker.Containers.ListContainersAsync(new ContainersListParameters
                {
                    All = true,
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels.ToDictionary(l => l, _ => true) },
                });
            }
            catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
                continue;
            }
            if (mine.Count == 0)
                break;
            if (attempt > 0)
                await Task.Delay(TimeSpan.FromSeconds(2));
            await Parallel.ForEachAsync(mine, new ParallelOptions { MaxDegreeOfParallelism = 12 }, async (container, _) =>
            {
                try
                {
                    await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
                    Interlocked.Increment(ref removed);
                }
                catch (DockerContainerNotFoundException)
                {
                }
                catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
                {
                    Console.Error.WriteLine($"cleanup: {container.ID[..12]} not removed yet ({e.Message.ReplaceLineEndings(" ")}); retrying");
                }
            });
        }
        return removed;
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
            await Server.DisposeAsync();
        if (ServerTracer is not null)
            await ServerTracer.DisposeAsync();
        var removed = await RemoveContainersAsync([$"{LabelKey}={RunId}"]);
        Console.Error.WriteLine($"cleanup: removed {removed} container(s) labelled {LabelKey}={RunId}");
        try
        {
            var volumes = await Docker.Volumes.ListAsync(new VolumesListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{LabelKey}={RunId}"] = true } },
            });
            foreach (var volume in volumes.Volumes ?? [])
                await Docker.Volumes.RemoveAsync(volume.Name, force: true);
            Console.Error.WriteLine($"cleanup: removed {volumes.Volumes?.Count ?? 0} home volume(s) labelled {LabelKey}={RunId}");
            var networks = await Docker.Networks.ListNetworksAsync(new NetworksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{LabelKey}={RunId}"] = true } },
            });
            foreach (var network in networks)
                await Docker.Networks.DeleteNetworkAsync(network.ID);
            Console.Error.WriteLine($"cleanup: removed {networks.Count} instance network(s) labelled {LabelKey}={RunId}");
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            Console.Error.WriteLine($"cleanup: home volumes or networks labelled {LabelKey}={RunId} not removed ({e.Message.ReplaceLineEndings(" ")})");
        }
        await Gateway.DisposeAsync();
        await Rest.DisposeAsync();
        Signer.Dispose();
        Docker.Dispose();
        SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
