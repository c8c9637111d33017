using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers.Swarm;

public static class SwarmServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Swarm backend as the one <see cref="IContainerRuntime"/> (call before
    /// <see cref="ContainersServiceCollectionExtensions.AddDockhandContainers(IServiceCollection, ContainerOptions)"/>,
    /// whose Docker runtime is only added when none is registered), with <see cref="SwarmSettings"/>.
    /// </summary>
    public static IServiceCollection AddDockhandSwarmRuntime(this IServiceCollection services, ContainerOptions options, SwarmSettings settings)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(settings);
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(settings);
        services.TryAddSingleton<IContainerRuntime>(sp => new SwarmServiceRuntime(options, settings, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));
        return services;
    }
}
