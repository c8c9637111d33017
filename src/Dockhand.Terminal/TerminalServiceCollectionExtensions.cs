using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>Composition of the web terminal: <c>services.AddDockhandTerminal(configuration)</c> and <c>app.MapDockhandTerminal()</c>.</summary>
public static class TerminalServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TerminalLinks"/>, the session registry, the expired-link sweeper, the <c>engine</c> and
    /// <c>database</c> health checks, and a startup filter (forwarded headers, security headers, WebSockets).
    /// Needs from the host: an <c>IDockerClient</c>, a <c>DockhandDatabase</c> (migrated), the containers module's
    /// <c>ContainerEngine</c> and <c>ContainerStore</c> (the health checks ask them; AddDockhandContainers registers all
    /// four) and a <c>TimeProvider</c> (<see cref="TimeProvider.System"/> is added if none is). Invalid settings fail start-up with one line naming the key.
    /// </summary>
    public static IServiceCollection AddDockhandTerminal(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var bound = TerminalOptions.Bind(configuration, out var errors);
        services.AddOptions<TerminalOptions>()
            .Configure(options =>
            {
                options.ServiceUrl = bound.ServiceUrl;
                options.TokenTimeToLive = bound.TokenTimeToLive;
                options.ReattachGrace = bound.ReattachGrace;
                options.MaxSessionsPerOwner = bound.MaxSessionsPerOwner;
                options.LinksPerMinute = bound.LinksPerMinute;
                foreach (var proxy in bound.TrustedProxies)
                    options.TrustedProxies.Add(proxy);
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TerminalOptions>>(new BindingErrors(errors));

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(TerminalSchema.Migrations);
        services.AddMetrics();
        services.TryAddSingleton<TerminalMetrics>();
        services.TryAddSingleton<TerminalLinks>();
        services.TryAddSingleton<TerminalSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<TerminalSessions>());
        services.AddHostedService<TerminalLinkSweeper>();
        services.AddSingleton<IStartupFilter, TerminalStartupFilter>();
        services.AddHealthChecks()
            .AddCheck<EngineHealthCheck>("engine")
            .AddCheck<DatabaseHealthCheck>("database");
        return services;
    }

    /// <summary>Maps <c>GET /health</c>, <c>GET /terminal/{container_id}</c> (link and page), its WebSocket and the page's static files.</summary>
    public static IEndpointRouteBuilder MapDockhandTerminal(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthResponse.WriteAsync });
        TerminalEndpoints.Map(endpoints);
        return endpoints;
    }

    private sealed class BindingErrors(IReadOnlyList<string> errors) : IValidateOptions<TerminalOptions>
    {
        public ValidateOptionsResult Validate(string? name, TerminalOptions options)
            => errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
