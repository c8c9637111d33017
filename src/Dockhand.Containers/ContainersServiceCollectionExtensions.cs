using Docker.DotNet;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Dockhand.Containers;

/// <summary>Applies the migrations when the host starts; hosted services start in order, so this runs before the reconciler.</summary>
internal sealed class DatabaseMigrationService(ContainerStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.MigrateAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class ContainersServiceCollectionExtensions
{
    /// <summary>
    /// Registers the container module: <see cref="ContainerOptions"/>, <see cref="DockhandDatabase"/>, <see cref="ContainerStore"/>,
    /// <see cref="ContainerEngine"/>, the negotiated <see cref="IDockerClient"/>, <see cref="ContainerService"/>, <see cref="Reconciler"/>
    /// and two hosted services: one migrates the database at start-up (before the reconciler starts), one runs the
    /// reconciler. Settings are read and validated now: a bad one throws <see cref="InvalidSettingException"/>, whose
    /// message is one line naming the key. Without a host (the CLI), call <see cref="ContainerStore.MigrateAsync"/> yourself.
    /// </summary>
    public static IServiceCollection AddDockhandContainers(this IServiceCollection services, IConfiguration configuration)
        => services.AddDockhandContainers(ContainerOptions.FromConfiguration(configuration));

    /// <summary>As above, with options already built (tests).</summary>
    public static IServiceCollection AddDockhandContainers(this IServiceCollection services, ContainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(_ => new DockhandDatabase(options.DatabasePath));
        services.AddSingleton<ContainerStore>();
        services.AddSingleton(_ => new ContainerEngine(options));
        services.AddSingleton<IDockerClient>(sp => sp.GetRequiredService<ContainerEngine>().Client);
        services.AddSingleton<ContainerService>();
        services.AddSingleton<Reconciler>();
        services.AddHostedService<DatabaseMigrationService>();
        services.AddHostedService<ReconcilerService>();
        return services;
    }
}
