using Docker.DotNet;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Storage;
using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Dockhand.Containers.Tests;

public sealed class ServiceCollectionTests(EngineFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-di-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IConfiguration Configuration(params (string Key, string Value)[] extra)
        => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DATABASE_PATH"] = Path.Combine(_directory, "containers.db"),
            ["DOCKER_HOST"] = fixture.DockerHost.ToString(),
            ["DEFAULT_IMAGE"] = EngineFixture.TestImage,
            ["CONTAINER_EXTRA_LABELS"] = $"dockhand.test={fixture.RunId},{Harness.ScopeLabel}={Guid.NewGuid():N}",
        }.Concat(extra.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value)))).Build();

    [Fact]
    public async Task AddDockhandContainers_Resolved_OneRuntimeAndNoEngineClientInTheContainer()
    {
        await using var provider = new ServiceCollection().AddDockhandContainers(Configuration()).BuildServiceProvider();

        var engine = Assert.IsType<DockerContainerRuntime>(provider.GetRequiredService<IContainerRuntime>());
        // The runtime is the one way to the engine: no Docker client for anyone else to pick up.
        Assert.Null(provider.GetService<IDockerClient>());
        Assert.Null(provider.GetService<DockerClient>());
        // One of each for the whole host (GetRequiredService never returns null; what can break is the lifetime):
        // the per-owner locks in ContainerService only serialise an owner's commands if every caller shares them.
        await using (var scope = provider.CreateAsyncScope())
        {
            Assert.Same(provider.GetRequiredService<ContainerService>(), scope.ServiceProvider.GetRequiredService<ContainerService>());
            Assert.Same(provider.GetRequiredService<Reconciler>(), scope.ServiceProvider.GetRequiredService<Reconciler>());
            Assert.Same(engine, scope.ServiceProvider.GetRequiredService<IContainerRuntime>());
        }

        Assert.True((await engine.PingAsync(Ct)).Reachable);
        Assert.NotNull(engine.NegotiatedApiVersion);
    }

    [Fact]
    public async Task AddDockhandContainers_BadSettings_StartupCheckGivesOneLineEachNamingTheKey()
    {
        // Registering no longer reads the settings; the start-up check (ValidateOnStart: what the host and the CLI run
        // first) reports every bad one, in the sentences the keys had before.
        await using var provider = new ServiceCollection()
            .AddDockhandContainers(Configuration(("ORPHAN_POLICY", "shrug"), ("CONTAINER_MEMORY_LIMIT", "lots"))).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Equal(
            [
                "CONTAINER_MEMORY_LIMIT: 'lots' is not a size; use e.g. 512m, 2g or 0 for no limit.",
                "ORPHAN_POLICY: 'shrug' is not a policy; use adopt (the default) or remove.",
            ],
            error.Failures);
    }

    [Fact]
    public async Task AddDockhandContainers_SwarmKeyBad_StartupCheckNamesIt()
    {
        await using var provider = new ServiceCollection()
            .AddDockhandContainers(Configuration(("CONTAINER_BACKEND", "kubernetes"))).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Equal(["CONTAINER_BACKEND: 'kubernetes' is not a backend; use docker (the default) or swarm."], error.Failures);
    }

    [Fact]
    public async Task Host_Started_MigratesDatabaseAndHealthChecksPass()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddDockhandContainers(Configuration());
        using var host = builder.Build();

        await host.StartAsync(Ct);
        var store = host.Services.GetRequiredService<ContainerStore>();
        var database = await store.CheckAsync(Ct);
        var engine = await host.Services.GetRequiredService<IContainerRuntime>().PingAsync(Ct);
        await host.StopAsync(Ct);

        Assert.True(database.Ok, database.Error);
        Assert.Equal(DockhandDatabase.LatestVersion, database.SchemaVersion);
        Assert.True(engine.Reachable, engine.Error);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
