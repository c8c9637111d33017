using System.Text.Json;
using Dockhand.Containers.Engine;
using Dockhand.Containers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Dockhand.Terminal;

/// <summary>
/// The <c>engine</c> check of <c>GET /health</c>: the containers module's <see cref="ContainerEngine.PingAsync"/>
/// (a bounded <c>/_ping</c> plus one versioned call), the same probe <c>dockhand doctor</c> uses. The description
/// stays generic: /health may be reachable from outside, and the engine's error can name local paths.
/// </summary>
internal sealed class EngineHealthCheck(ContainerEngine engine) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = await engine.PingAsync(cancellationToken);
        return health.Reachable
            ? HealthCheckResult.Healthy("The Docker engine answers.")
            : HealthCheckResult.Unhealthy("The Docker engine does not answer.");
    }
}

/// <summary>
/// The <c>database</c> check of <c>GET /health</c>: the containers module's <see cref="ContainerStore.CheckAsync"/>
/// (opens the file and reads the schema version).
/// </summary>
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

internal static class HealthResponse
{
    /// <summary><c>{"status":"healthy","checks":{"engine":{"status":"healthy","description":"…"},"database":{…}}}</c></summary>
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", Name(report.Status));
        json.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", Name(entry.Status));
            json.WriteString("description", entry.Description);
            json.WriteNumber("durationMs", Math.Round(entry.Duration.TotalMilliseconds, 1));
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    private static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };
}
