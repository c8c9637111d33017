using System.Net;
using Microsoft.AspNetCore.Http;

namespace Dockhand.Terminal;

/// <summary>Small HTML pages: the terminal shell page and the "this link does not work" pages. No inline script or style.</summary>
internal static class TerminalPages
{
    private static readonly Lazy<string> TerminalTemplate = new(() =>
    {
        using var stream = typeof(TerminalPages).Assembly.GetManifestResourceStream("Dockhand.Terminal.Pages.terminal.html")
            ?? throw new InvalidOperationException("terminal.html is not embedded.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static async Task WriteTerminalAsync(HttpContext context, string containerId, string styleNonce)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        // xterm.js creates <style> elements at run time: they carry this per-response nonce (see terminal.js). No 'unsafe-inline'.
        context.Response.Headers.ContentSecurityPolicy = SecurityHeaders.ContentSecurityPolicy + $"; style-src 'self' 'nonce-{styleNonce}'";
        var html = TerminalTemplate.Value
            .Replace("{{NONCE}}", styleNonce, StringComparison.Ordinal)
            .Replace("{{CONTAINER}}", WebUtility.HtmlEncode(containerId), StringComparison.Ordinal)
            .Replace("{{BASE}}", WebUtility.HtmlEncode(context.Request.PathBase.Value ?? ""), StringComparison.Ordinal);
        await context.Response.WriteAsync(html, context.RequestAborted);
    }

    public static async Task WriteProblemAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var basePath = WebUtility.HtmlEncode(context.Request.PathBase.Value ?? "");
        var html = $"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>{WebUtility.HtmlEncode(title)} – Dockhand terminal</title>
            <link rel="stylesheet" href="{basePath}/_terminal/page.css">
            </head>
            <body class="problem">
            <main>
            <h1>{WebUtility.HtmlEncode(title)}</h1>
            <p>{WebUtility.HtmlEncode(detail)}</p>
            <p class="status">HTTP {status}</p>
            </main>
            </body>
            </html>
            """;
        await context.Response.WriteAsync(html, context.RequestAborted);
    }
}
