using Dockhand.Containers.Swarm;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>A container service on its own SQLite file with the Swarm backend, as DockhandHost composes it for CONTAINER_BACKEND=swarm.</summary>
public sealed class SwarmHarness : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly string _directory;

    private SwarmHarness(ServiceProvider provider, string directory)
    {
        _provider = provider;
        _directory = directory;
    }

    public ContainerService Service => _provider.GetRequiredService<ContainerService>();

    public IContainerRuntime Runtime => _provider.GetRequiredService<IContainerRuntime>();

    internal SwarmServiceRuntime Swarm => (SwarmServiceRuntime)Runtime;

    public static async Task<SwarmHarness> CreateAsync(SwarmTestBed bed, SwarmSettings? settings = null)
    {
        var directory = Directory.CreateTempSubdirectory("dockhand-sw-").FullName;
        var options = bed.Options(directory, Guid.NewGuid().ToString("N")[..12]);
        var provider = new ServiceCollection()
            .AddDockhandSwarmRuntime(options, settings ?? bed.Settings())
            .AddDockhandContainers(options)
            .BuildServiceProvider();
        var harness = new SwarmHarness(provider, directory);
        await provider.GetRequiredService<ContainerStore>().MigrateAsync(TestContext.Current.CancellationToken);
        return harness;
    }

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
