using Docker.DotNet;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Dockhand.Containers;

public static class ContainersServiceCollectionExtensions
{
    /// <summary>
    /// Registers the container module: <see cref="ContainerOptions"/>, <see cref="DockhandDatabase"/>, <see cref="ContainerStore"/>,
    /// <see cref="ContainerEngine"/>, the negotiated <see cref="IDockerClient"/>, <see cref="ContainerService"/>, <see cref="Reconciler"/>
    /// and a hosted service running the reconciler. Settings are read and validated now: a bad one throws
    /// <see cref="InvalidSettingException"/>, whose message is one line naming the key. Call
    /// <see cref="ContainerStore.MigrateAsync"/> once at start-up before serving.
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
        services.AddHostedService<ReconcilerService>();
        return services;
    }
}
