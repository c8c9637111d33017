using Dockhand.Containers.Culling;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Storage;
using Dockhand.Containers.Swarm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Containers;

/// <summary>
/// Makes sure the migrations have run when the host starts (hosted services start in order, so before the reconciler;
/// <c>dockhand run</c> has already run them before starting the host, and <see cref="ContainerStore.MigrateAsync"/> runs
/// them once per process) and says which database and instance this is: a wrong working directory shows at once as a
/// new database at a surprising path.
/// </summary>
internal sealed partial class DatabaseMigrationService(ContainerStore store, ILogger<DatabaseMigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.MigrateAsync(cancellationToken);
        var instance = await store.GetInstanceIdAsync(cancellationToken);
        if (!store.CreatedNewDatabase)
            LogDatabase(logger, store.Database.Path, instance);
        else
            LogNewDatabase(logger, store.Database.Path, instance);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2060, Level = LogLevel.Information, Message = "Database {Path}, instance {Instance}")]
    private static partial void LogDatabase(ILogger logger, string path, string instance);

    [LoggerMessage(EventId = 2061, Level = LogLevel.Warning, Message = "Created a new database at {Path}, instance {Instance}; containers of other instances on the engine are left untouched")]
    private static partial void LogNewDatabase(ILogger logger, string path, string instance);
}

public static class ContainersServiceCollectionExtensions
{
    /// <summary>
    /// Registers the container module: <see cref="ContainerOptions"/>, <see cref="DockhandDatabase"/>, <see cref="ContainerStore"/>,
    /// the <see cref="IContainerRuntime"/> (Docker, or a Swarm with CONTAINER_BACKEND=swarm), <see cref="ContainerService"/>,
    /// <see cref="Reconciler"/>, <see cref="ContainerMetrics"/>, the <c>engine</c> and <c>database</c> health checks
    /// (<see cref="AddDockhandContainerChecks"/>), and two hosted services: one migrates the database at start-up (before the
    /// reconciler starts), one runs the reconciler. The options are bound from the flat keys and checked when the host
    /// starts (<c>ValidateOnStart</c>): a bad one is an <see cref="OptionsValidationException"/> whose failures are one line
    /// each, naming the key. Without a host (the CLI), run <see cref="IStartupValidator"/> and
    /// <see cref="ContainerStore.MigrateAsync"/> yourself.
    /// </summary>
    public static IServiceCollection AddDockhandContainers(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ContainerOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ContainerOptions>, ContainerOptionsValidator>());
        // The Swarm keys are this module's too, and say what a Swarm cannot honour of the others: checked with them.
        services.AddSingleton<IValidateOptions<ContainerOptions>>(new SwarmSettingsValidator(configuration));
        services.TryAddSingleton(sp => SwarmSettings.FromConfiguration(configuration, sp.GetRequiredService<ContainerOptions>()));
        services.TryAddSingleton<IContainerRuntime>(sp => sp.GetRequiredService<SwarmSettings>().Backend == ContainerBackend.Swarm
            ? new SwarmServiceRuntime(sp.GetRequiredService<ContainerOptions>(), sp.GetRequiredService<SwarmSettings>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>())
            : new DockerContainerRuntime(sp.GetRequiredService<ContainerOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<DockerContainerRuntime>>()));
        return services.AddContainerServices();
    }

    /// <summary>As above, with options already built (tests): no binding, no start-up check.</summary>
    public static IServiceCollection AddDockhandContainers(this IServiceCollection services, ContainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(Options.Create(options));
        services.AddDockhandContainerRuntime(options);
        return services.AddContainerServices();
    }

    /// <summary>The module's services; every one takes the options from <see cref="IOptions{ContainerOptions}"/>.</summary>
    private static IServiceCollection AddContainerServices(this IServiceCollection services)
    {
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<ContainerOptions>>().Value);
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<ContainerOptions>();
            return DockhandDatabase.FromSettings(options.DatabasePath, options.DatabaseUrl);
        });
        services.AddSingleton<ContainerStore>();
        services.AddMetrics();
        services.TryAddSingleton<ContainerMetrics>();
        services.AddSingleton<ContainerService>();
        services.AddSingleton<Reconciler>();
        services.AddHostedService<DatabaseMigrationService>();
        // After the migrations and before the services that wait for it: the reconciler, the idle culler, the gateway.
        services.TryAddSingleton<InstanceLeadership>();
        services.AddHostedService<InstanceLeadershipService>();
        services.AddHostedService<ReconcilerService>();
        services.AddHealthChecks().AddDockhandContainerChecks();
        // The web terminal replaces this with its live sessions (registered after, or before: TryAdd keeps the other).
        services.TryAddSingleton<IContainerActivity, NoContainerActivity>();
        services.AddSingleton<IdleCuller>();
        services.AddHostedService<IdleCullerService>();
        return services;
    }

    /// <summary>
    /// Registers the one <see cref="IContainerRuntime"/>: Docker at <see cref="ContainerOptions.DockerHost"/>, its API
    /// version negotiated on first use. Nothing else in the process holds an engine client.
    /// </summary>
    public static IServiceCollection AddDockhandContainerRuntime(this IServiceCollection services, ContainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IContainerRuntime>(sp => new DockerContainerRuntime(options, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<DockerContainerRuntime>>()));
        return services;
    }

    /// <summary>
    /// The container module's checks for <c>GET /health</c>: <c>engine</c> (<see cref="IContainerRuntime.PingAsync"/>) and
    /// <c>database</c> (<see cref="ContainerStore.CheckAsync"/>). Needs both registered.
    /// </summary>
    public static IHealthChecksBuilder AddDockhandContainerChecks(this IHealthChecksBuilder checks)
    {
        ArgumentNullException.ThrowIfNull(checks);
        return checks
            .AddCheck<EngineHealthCheck>("engine")
            .AddCheck<DatabaseHealthCheck>("database");
    }

    /// <summary>
    /// A Swarm service spec (API 1.41) cannot ask for no-new-privileges, so each node's daemon must set it: refuse to start
    /// when a node is measured not to. A node that cannot be measured (down, no endpoint, the image not there yet) is
    /// logged; <see cref="SwarmServiceRuntime"/> still checks each task as it starts.
    /// </summary>
    private static async Task CheckSwarmNoNewPrivilegesAsync(IServiceProvider services, SwarmServiceRuntime swarm, CancellationToken cancellationToken)
    {
        var logger = services.GetRequiredService<ILogger<ContainerService>>();
        IReadOnlyList<NodeNoNewPrivileges> probes;
        try
        {
            probes = await swarm.CheckNoNewPrivilegesAsync(cancellationToken);
        }
        catch (EngineException e)
        {
            ContainerStartupLog.NoNewPrivilegesUnmeasured(logger, "(all)", e.Message);
            return;
        }
        if (probes.FirstOrDefault(p => p.Enforced == false) is { } refusing)
            throw new InvalidSettingException(ContainerOptions.Keys.NoNewPrivileges,
                $"node {refusing.Node}: {refusing.Detail}. A Swarm service spec (Engine API 1.41) cannot ask for it; set {ContainerOptions.Keys.NoNewPrivileges}=false only to accept containers without it.");
        foreach (var probe in probes.Where(p => p.Enforced is null))
            ContainerStartupLog.NoNewPrivilegesUnmeasured(logger, probe.Node, probe.Detail);
    }

    /// <summary>
    /// The settings only the engine can judge, checked before the host starts (<c>dockhand run</c>): throws
    /// <see cref="InvalidSettingException"/> when CONTAINER_DISK_LIMIT is set and the engine's storage driver cannot
    /// enforce it. Not a hosted service, whose failure the host logs with a stack trace. When the engine does not answer
    /// yet, start-up goes on (logged) and the first create makes the same check, refusing with the same sentence.
    /// </summary>
    public static async Task CheckEngineSettingsAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        var service = services.GetRequiredService<ContainerService>();
        if (services.GetRequiredService<IContainerRuntime>() is SwarmServiceRuntime swarm && service.Options.NoNewPrivileges)
            await CheckSwarmNoNewPrivilegesAsync(services, swarm, cancellationToken);
        if (service.Options.DiskLimitBytes == 0)
            return;
        try
        {
            var support = await service.GetDiskLimitSupportAsync(cancellationToken);
            if (!support.Enforceable)
                throw new InvalidSettingException(ContainerOptions.Keys.DiskLimit, ContainerService.DiskLimitSentence(support));
        }
        catch (EngineUnavailableException e)
        {
            ContainerStartupLog.DiskLimitCheckDeferred(services.GetRequiredService<ILogger<ContainerService>>(), e.Message);
        }
    }
}

/// <summary>
/// The Swarm keys' start-up check (CONTAINER_BACKEND, SWARM_*, and what a Swarm cannot honour of the container keys),
/// reported with the container options' problems, one line naming the key.
/// </summary>
internal sealed class SwarmSettingsValidator(IConfiguration configuration) : IValidateOptions<ContainerOptions>
{
    public ValidateOptionsResult Validate(string? name, ContainerOptions options)
    {
        try
        {
            _ = SwarmSettings.FromConfiguration(configuration, options);
            return ValidateOptionsResult.Success;
        }
        catch (InvalidSettingException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}

internal static partial class ContainerStartupLog
{
    [LoggerMessage(EventId = 2063, Level = LogLevel.Warning, Message = "Could not measure whether node {Node} enforces no-new-privileges ({Reason}); each start checks its task")]
    public static partial void NoNewPrivilegesUnmeasured(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 2062, Level = LogLevel.Warning, Message = "Could not ask the engine whether it can enforce CONTAINER_DISK_LIMIT ({Reason}); the first create will check")]
    public static partial void DiskLimitCheckDeferred(ILogger logger, string reason);
}
