using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>
/// <c>GET /terminal/{container_id}?token=</c> (consume, set cookie, redirect), <c>GET /terminal/{container_id}</c> (the page),
/// <c>GET /terminal/{container_id}/ws</c> (the WebSocket) and <c>GET /_terminal/*</c> (static files embedded in this assembly).
/// </summary>
internal static partial class TerminalEndpoints
{
    public const string CookieName = "dockhand_terminal";
    public const string AssetsPath = "/_terminal";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex ContainerIdPattern();

    /// <summary>Docker ids and names: letters, digits, '_', '.', '-' (so they are safe in a path and a cookie Path).</summary>
    public static bool IsValidContainerId(string? id) => id is not null && ContainerIdPattern().IsMatch(id);

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/terminal/{container_id}");
        group.MapGet("", OpenAsync);
        group.Map("/ws", SocketAsync); // any method: HTTP/2 WebSockets arrive as CONNECT

        var assets = endpoints.CreateApplicationBuilder();
        // Static files step aside when an endpoint is selected; this branch is the endpoint, so clear it first.
        assets.Use(static (context, next) =>
        {
            context.SetEndpoint(null);
            return next(context);
        });
        assets.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new ManifestEmbeddedFileProvider(typeof(TerminalEndpoints).Assembly, "wwwroot"),
            RequestPath = AssetsPath,
            ContentTypeProvider = new FileExtensionContentTypeProvider(),
            OnPrepareResponse = static context => context.Context.Response.Headers.CacheControl = "public, max-age=3600",
        });
        assets.Run(static context => TerminalPages.WriteProblemAsync(context, StatusCodes.Status404NotFound, "Not found", "There is no such file."));
        endpoints.Map(AssetsPath + "/{**path}", assets.Build());
    }

    private static async Task OpenAsync(HttpContext context, string container_id, TerminalLinks links, TerminalSessions sessions,
        IDockerClient docker, IOptions<TerminalOptions> options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(TerminalEndpoints).FullName!);
        var containerId = container_id;
        try
        {
            if (!IsValidContainerId(containerId))
            {
                await TerminalPages.WriteProblemAsync(context, StatusCodes.Status404NotFound, "No such terminal",
                    "This address does not name a container. Run /terminal in Discord to get a working link.");
                return;
            }

            if (!context.Request.Query.TryGetValue("token", out var tokens))
            {
                // The page itself holds no secret; the WebSocket checks the session cookie. It is served without the
                // cookie because SameSite=Strict cookies are not sent on a redirect that started on another site (Discord).
                var nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
                await TerminalPages.WriteTerminalAsync(context, containerId, nonce);
                return;
            }

            var token = tokens.Count == 1 ? tokens[0] : null;
            var check = await links.CheckAsync(token, containerId, context.RequestAborted);
            if (check is TokenCheck.Valid valid)
            {
                var (presence, ownerLabel) = await new TerminalExec(docker, logger).InspectOwnershipAsync(containerId, context.RequestAborted);
                if (presence != ContainerPresence.Gone && ownerLabel is not null && ownerLabel != valid.Owner.ToString())
                {
                    // Defence in depth: the issuer looked the container up for this owner, and Docker's label must agree.
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status403Forbidden, "Not your container",
                        "This link is for a container that belongs to someone else. Run /terminal again to get a link for yours.");
                    return;
                }
                if (presence == ContainerPresence.Gone)
                {
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status404NotFound, "Container not found",
                        "The container this link was for no longer exists. Create one, then run /terminal again.");
                    return;
                }
                if (presence == ContainerPresence.Stopped)
                {
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status409Conflict, "Container stopped",
                        "The container this link is for is not running. Start it, then run /terminal again (this link was not used up).");
                    return;
                }
                check = await links.ConsumeAsync(token, containerId, context.RequestAborted);
            }

            switch (check)
            {
                case TokenCheck.Valid accepted:
                    var session = sessions.Create(accepted.Owner, containerId, accepted.ExpiresAt);
                    var cleanPath = $"{context.Request.PathBase}/terminal/{containerId}";
                    context.Response.Cookies.Append(CookieName, session.Id, new CookieOptions
                    {
                        HttpOnly = true,
                        SameSite = SameSiteMode.Strict,
                        Secure = options.Value.SecureCookies || context.Request.IsHttps,
                        Path = cleanPath,
                        IsEssential = true,
                    });
                    context.Response.Headers.CacheControl = "no-store";
                    context.Response.StatusCode = StatusCodes.Status303SeeOther;
                    context.Response.Headers.Location = cleanPath;
                    return;
                case TokenCheck.OtherContainer:
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status403Forbidden, "Link is for another container",
                        "This link was issued for a different container. Run /terminal again to get a link for yours.");
                    return;
                case TokenCheck.Used:
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status410Gone, "Link already used",
                        "This one-time link has already been used. Run /terminal again to get a new link.");
                    return;
                case TokenCheck.Expired:
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status410Gone, "Link expired",
                        "This link has expired. Run /terminal again to get a new link.");
                    return;
                default:
                    await RefuseAsync(context, logger, containerId, StatusCodes.Status401Unauthorized, "Link not recognised",
                        "This link is not valid (it may be mistyped or cut short). Run /terminal again to get a new link.");
                    return;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or TimeoutException
            or Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            Log.RequestFailed(logger, e, containerId ?? "");
            if (!context.Response.HasStarted)
                await TerminalPages.WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "Terminal unavailable",
                    "The terminal service cannot reach Docker or its database right now. Your link was not used up; try it again in a moment.");
        }
    }

    private static async Task SocketAsync(HttpContext context, string container_id, TerminalSessions sessions,
        IOptions<TerminalOptions> options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(TerminalEndpoints).FullName!);
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await TerminalPages.WriteProblemAsync(context, StatusCodes.Status400BadRequest, "Not a WebSocket", "This address is used by the terminal page only.");
            return;
        }
        if (!OriginAllowed(context, options.Value, out var origin))
        {
            Log.OriginRefused(logger, origin, ExpectedOrigin(context));
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        context.Request.Cookies.TryGetValue(CookieName, out var cookie);
        var session = sessions.Find(cookie);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        if (session is null || !string.Equals(session.ContainerId, container_id, StringComparison.Ordinal))
        {
            await RejectAsync(socket, "There is no terminal session in this browser for this container (or it has ended). Run /terminal again for a new link.", context.RequestAborted);
            return;
        }
        await session.AttachAsync(socket, context.RequestAborted);
    }

    private static async Task RejectAsync(System.Net.WebSockets.WebSocket socket, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendAsync(TerminalProtocol.Ended(reason), System.Net.WebSockets.WebSocketMessageType.Text, true, cancellationToken);
            await socket.CloseAsync((System.Net.WebSockets.WebSocketCloseStatus)4001, "no session", cancellationToken);
        }
        catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException or IOException)
        {
        }
    }

    /// <summary>The Origin must be this request's own origin (after forwarded headers) or TERMINAL_SERVICE_URL's.</summary>
    internal static bool OriginAllowed(HttpContext context, TerminalOptions options, out string origin)
    {
        var values = context.Request.Headers.Origin;
        origin = values.Count == 1 ? values[0] ?? "" : "";
        if (origin.Length == 0)
            return false;
        return string.Equals(origin, ExpectedOrigin(context), StringComparison.OrdinalIgnoreCase)
            || string.Equals(origin, options.ServiceUrl.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase);
    }

    private static string ExpectedOrigin(HttpContext context) => $"{context.Request.Scheme}://{context.Request.Host.Value}";

    private static async Task RefuseAsync(HttpContext context, ILogger logger, string containerId, int status, string title, string detail)
    {
        Log.LinkRefused(logger, containerId, title);
        await TerminalPages.WriteProblemAsync(context, status, title, detail);
    }
}
