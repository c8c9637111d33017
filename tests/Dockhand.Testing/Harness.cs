using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Actor = Dockhand.Containers.Actor;

namespace Dockhand.Testing;

/// <summary>
/// A container service (the real one, as Dockhand composes it) on its own SQLite file, with its containers scoped by two labels: the run's
/// <c>dockhand.test</c> and a per-harness <c>dockhand-test-scope</c>, so reconciliation never sees another test's containers.
/// </summary>
public sealed class Harness : IAsyncDisposable
{
    public const string ScopeLabel = "dockhand-test-scope";

    private readonly ServiceProvider _provider;
    private readonly ServiceProvider? _realEngine;

    private Harness(EngineFixture fixture, ContainerOptions options, string directory, string scope, TimeProvider? time, Func<IContainerRuntime, IContainerRuntime>? engine)
    {
        Fixture = fixture;
        Options = options;
        Directory = directory;
        Scope = scope;
        var services = new ServiceCollection();
        if (time is not null)
            services.AddSingleton(time);
        if (engine is not null)
        {
            // The real runtime, built as the module builds it, behind the test's wrapper (registered first, so the module keeps it).
            var real = new ServiceCollection();
            if (time is not null)
                real.AddSingleton(time);
            _realEngine = real.AddDockhandContainerRuntime(options).BuildServiceProvider();
            services.AddSingleton(engine(_realEngine.GetRequiredService<IContainerRuntime>()));
        }
        _provider = services.AddDockhandContainers(options).BuildServiceProvider();
    }

    public EngineFixture Fixture { get; }

    public ContainerOptions Options { get; }

    public string Directory { get; }

    public string Scope { get; }

    /// <summary>This harness's database's instance id (the dockhand.instance label on what it creates).</summary>
    public string InstanceId { get; private set; } = "";

    public ContainerService Service => _provider.GetRequiredService<ContainerService>();

    public ContainerStore Store => _provider.GetRequiredService<ContainerStore>();

    public IContainerRuntime Engine => _provider.GetRequiredService<IContainerRuntime>();

    public Reconciler Reconciler => _provider.GetRequiredService<Reconciler>();

    /// <summary>The run's own client to the real engine (also when this harness's service points at a dead one).</summary>
    public IDockerClient Docker => Fixture.Client;

    /// <summary>The CONTAINER_EXTRA_LABELS value that scopes a child dockhand process to this harness.</summary>
    public string ExtraLabelsSetting => $"{EngineFixture.RunLabel}={Fixture.RunId},{ScopeLabel}={Scope}";

    /// <summary>Settings for a child dockhand process (or the in-process CLI) that match this harness.</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["DATABASE_PATH"] = Options.DatabasePath,
        ["DATABASE_URL"] = Options.DatabaseUrl,
        ["DOCKER_HOST"] = Options.DockerHost.ToString(),
        ["DEFAULT_IMAGE"] = EngineFixture.TestImage,
        ["CONTAINER_EXTRA_LABELS"] = ExtraLabelsSetting,
        ["CONTAINER_NETWORK"] = "none",
    };

    /// <param name="time">The clock of the service (the reconciler's retry delays run on it); the system clock when null.</param>
    /// <param name="engine">Wraps the real engine the service uses (for example in <see cref="EngineFaults"/>); the real one when null.</param>
    public static async Task<Harness> CreateAsync(EngineFixture fixture, Func<ContainerOptions, ContainerOptions>? configure = null, string? directory = null, string? scope = null, TimeProvider? time = null,
        Func<IContainerRuntime, IContainerRuntime>? engine = null)
    {
        directory ??= System.IO.Directory.CreateTempSubdirectory("dockhand-ct-").FullName;
        scope ??= Guid.NewGuid().ToString("N")[..12];
        var options = new ContainerOptions
        {
            DatabasePath = Path.Combine(directory, "containers.db"),
            DockerHost = fixture.DockerHost,
            DefaultImage = EngineFixture.TestImage,
            MemoryLimitBytes = 64L * 1024 * 1024,
            NanoCpus = 500_000_000,
            PidsLimit = 64,
            // No network: the tests need none, and it keeps them independent of the engine's bridge.
            Network = "none",
            ExtraLabels = new Dictionary<string, string> { [EngineFixture.RunLabel] = fixture.RunId, [ScopeLabel] = scope },
        };
        options = configure?.Invoke(options) ?? options;
        var harness = new Harness(fixture, options, directory, scope, time, engine);
        await harness.Store.MigrateAsync(TestContext.Current.CancellationToken);
        harness.InstanceId = await harness.Store.GetInstanceIdAsync(TestContext.Current.CancellationToken);
        return harness;
    }

    /// <summary>A second service on the same file and scope: another "process" after a restart.</summary>
    public Task<Harness> ReopenAsync(Func<ContainerOptions, ContainerOptions>? configure = null)
        => CreateAsync(Fixture, o => configure?.Invoke(o with { DatabasePath = Options.DatabasePath }) ?? o with { DatabasePath = Options.DatabasePath }, Directory, Scope);

    public static OwnerId NewOwner() => new((ulong)Random.Shared.NextInt64(100_000_000_000_000_000, 999_999_999_999_999_999));

    public static string NewName(string stem = "c") => $"{stem}-{Guid.NewGuid().ToString("N")[..10]}";

    public CreateRequest Request(OwnerId owner, string name, string? image = null) => new(owner, name, image, Actor.Cli("test"));

    /// <summary>Every container of this harness's scope, running or not.</summary>
    public async Task<IList<ContainerListResponse>> ScopedContainersAsync()
        => await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ScopeLabel}={Scope}"] = true } },
        }, TestContext.Current.CancellationToken);

    public async Task<long> RowCountAsync()
    {
        await using var connection = await Store.Database.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM containers";
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    /// <summary>Dockhand's labels for a container of this harness's instance: what the reconciler may treat as its own.</summary>
    public Dictionary<string, string> OwnLabels(OwnerId owner, string name) => new()
    {
        ["dockhand.managed"] = "true",
        ["dockhand.instance"] = InstanceId,
        ["dockhand.owner"] = owner.ToString(),
        ["dockhand.name"] = name,
    };

    /// <summary>Runs <paramref name="command"/> in the container (no TTY) and returns its stdout; bounded to 20 s.</summary>
    public async Task<string> ExecAsync(string containerId, params string[] command)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var created = await Docker.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
        {
            Cmd = command,
            AttachStdout = true,
            AttachStderr = true,
        }, timeout.Token);
        using var stream = await Docker.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { Detach = false }, timeout.Token);
        var (stdout, _) = await stream.ReadOutputToEndAsync(timeout.Token);
        return stdout;
    }

    /// <summary>Every home volume of this harness's scope.</summary>
    public async Task<IList<VolumeResponse>> ScopedVolumesAsync()
        => (await Docker.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ScopeLabel}={Scope}"] = true } },
        }, TestContext.Current.CancellationToken)).Volumes ?? [];

    /// <summary>Every network of this harness's scope (the instance network Dockhand made, and any a test made).</summary>
    public async Task<IList<NetworkResponse>> ScopedNetworksAsync()
        => await Docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ScopeLabel}={Scope}"] = true } },
        }, CancellationToken.None);

    /// <summary>Runs a container straight on the engine (not through Dockhand), in this harness's scope.</summary>
    public async Task<string> RunForeignAsync(string name, IDictionary<string, string> labels)
    {
        var all = new Dictionary<string, string>(labels) { [EngineFixture.RunLabel] = Fixture.RunId, [ScopeLabel] = Scope };
        var created = await Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = name,
            Image = EngineFixture.TestImage,
            Cmd = ["tail", "-f", "/dev/null"],
            Labels = all,
            HostConfig = new HostConfig { NetworkMode = "none" },
        }, TestContext.Current.CancellationToken);
        await Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), TestContext.Current.CancellationToken);
        return created.ID;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            foreach (var container in await ScopedContainersAsync())
                await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
            foreach (var volume in await ScopedVolumesAsync())
                await Docker.Volumes.RemoveAsync(volume.Name, force: true, CancellationToken.None);
            // Instance networks (and the tests' own) carry the extra labels; their containers are gone by now.
            foreach (var network in await ScopedNetworksAsync())
                await Docker.Networks.DeleteNetworkAsync(network.ID, CancellationToken.None);
        }
        catch (DockerApiException)
        {
        }
        await _provider.DisposeAsync();
        if (_realEngine is not null)
            await _realEngine.DisposeAsync();
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
