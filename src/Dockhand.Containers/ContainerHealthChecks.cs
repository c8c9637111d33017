using Dockhand.Containers.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Dockhand.Containers;

/// <summary>
/// The <c>engine</c> check of <c>GET /health</c>: <see cref="IContainerRuntime.PingAsync"/> (bounded), the same probe
/// <c>dockhand doctor</c> uses. The description stays generic: /health may be reachable from outside, and the engine's
/// error can name local paths.
/// </summary>
internal sealed class EngineHealthCheck(IContainerRuntime runtime) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = await runtime.PingAsync(cancellationToken);
        return health.Reachable
            ? HealthCheckResult.Healthy("The Docker engine answers.")
            : HealthCheckResult.Unhealthy("The Docker engine does not answer.");
    }
}

/// <summary>The <c>database</c> check of <c>GET /health</c>: <see cref="ContainerStore.CheckAsync"/> (opens the file and reads the schema version).</summary>
internal sealed class DatabaseHealthCheck(ContainerStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = await store.CheckAsync(cancellationToken);
        return health switch
        {
            { Ok: true } => HealthCheckResult.Healthy("The database answers."),
            { SchemaVersion: not null } => HealthCheckResult.Unhealthy("The database schema is out of date; start Dockhand once to migrate it."),
            _ => HealthCheckResult.Unhealthy("The database does not answer."),
        };
    }
}
