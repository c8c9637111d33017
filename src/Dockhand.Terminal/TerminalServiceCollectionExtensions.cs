using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>
/// Composition of the web terminal: <c>services.AddDockhandTerminal(configuration)</c>; in the host's pipeline, in this
/// order, <c>app.UseDockhandForwardedHeaders()</c>, <c>app.UseDockhandSecurityHeaders()</c> and <c>app.UseWebSockets(…)</c>;
/// then <c>app.MapDockhandTerminal()</c>.
/// </summary>
public static class TerminalServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TerminalLinks"/>, the session registry and the expired-link sweeper. Needs from the host the
    /// containers module's <c>IContainerRuntime</c> (every shell goes through it) and a <c>DockhandDatabase</c> (migrated),
    /// both registered by AddDockhandContainers, and a <c>TimeProvider</c> (<see cref="TimeProvider.System"/> is added if
    /// none is). Invalid settings fail start-up with one line naming the key.
    /// </summary>
    public static IServiceCollection AddDockhandTerminal(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TerminalOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TerminalOptions>, TerminalOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(TerminalSchema.Migrations);
        services.AddMetrics();
        services.TryAddSingleton<TerminalMetrics>();
        services.TryAddSingleton<TerminalLinks>();
        services.TryAddSingleton<TerminalSessionStore>();
        services.TryAddSingleton<TerminalSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<TerminalSessions>());
        services.AddHostedService<TerminalSessionHeartbeat>();
        services.AddSingleton<Containers.Culling.IContainerActivity, TerminalActivity>();
        services.AddHostedService<TerminalLinkSweeper>();
        return services;
    }

    /// <summary>
    /// Applies <c>X-Forwarded-For/Proto/Host</c> from loopback and <c>TRUSTED_PROXIES</c> (the terminal's links, cookies
    /// and Origin check depend on the scheme and host). Put it first, before anything reads them.
    /// </summary>
    public static IApplicationBuilder UseDockhandForwardedHeaders(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost,
        };
        foreach (var network in app.ApplicationServices.GetRequiredService<IOptions<TerminalOptions>>().Value.TrustedProxies)
            forwarded.KnownIPNetworks.Add(network);
        return app.UseForwardedHeaders(forwarded);
    }

    /// <summary>Adds the security headers (CSP, no referrer, no framing, nosniff) to every response that follows, errors and 404s included.</summary>
    public static IApplicationBuilder UseDockhandSecurityHeaders(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(static (context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                SecurityHeaders.Apply(((HttpContext)state).Response.Headers);
                return Task.CompletedTask;
            }, context);
            return next(context);
        });
    }

    /// <summary>The WebSocket settings of the terminal's socket: a keep-alive ping every 20 s so idle proxies keep it open.</summary>
    public static WebSocketOptions WebSocketOptions => new() { KeepAliveInterval = TimeSpan.FromSeconds(20) };

    /// <summary>Maps <c>GET /terminal/{container_id}</c> (the page), the redeem call, its WebSocket and the page's static files.</summary>
    public static IEndpointRouteBuilder MapDockhandTerminal(this IEndpointRouteBuilder endpoints)
    {
        TerminalEndpoints.Map(endpoints);
        return endpoints;
    }
}
