using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>
/// Put in front of the whole pipeline by <see cref="TerminalServiceCollectionExtensions.AddDockhandTerminal"/> (an
/// <see cref="IStartupFilter"/>), so every response, errors and 404s included, carries the security headers, and
/// forwarded headers from trusted proxies are applied before anything reads the scheme or host.
/// </summary>
internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

    public static void Apply(IHeaderDictionary headers)
    {
        if (!headers.ContainsKey("Content-Security-Policy"))
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
    }
}

internal sealed class TerminalStartupFilter(IOptions<TerminalOptions> options) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost,
        };
        foreach (var network in options.Value.TrustedProxies)
            forwarded.KnownIPNetworks.Add(network);
        app.UseForwardedHeaders(forwarded);
        app.Use(static (context, nextMiddleware) =>
        {
            context.Response.OnStarting(static state =>
            {
                SecurityHeaders.Apply(((HttpContext)state).Response.Headers);
                return Task.CompletedTask;
            }, context);
            return nextMiddleware(context);
        });
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        next(app);
    };
}
