using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dockhand.Containers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MediaTypeHeaderValue = Microsoft.Net.Http.Headers.MediaTypeHeaderValue;

namespace Dockhand.Terminal;

/// <summary>
/// <c>GET|HEAD /terminal/{container_id}[?token=]</c> (the page; consumes nothing), <c>POST /terminal/{container_id}/session</c>
/// (the page's script redeems the token: cookie and JSON),
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
        group.MapMethods("", [HttpMethods.Get, HttpMethods.Head], PageAsync);
        group.MapPost("/session", RedeemAsync);
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

    /// <summary>
    /// The page, for <c>GET</c> and <c>HEAD</c>, with or without <c>?token=</c>. It touches neither the database nor the
    /// engine and holds no secret, so a link scanner, an unfurler or curl learns nothing and uses nothing up: only the
    /// page's script redeems the token (<see cref="RedeemAsync"/>). It is served without the cookie check because
    /// SameSite=Strict cookies are not sent on a navigation that started on another site (a click in Discord).
    /// </summary>
    private static async Task PageAsync(HttpContext context, string container_id)
    {
        if (!IsValidContainerId(container_id))
        {
            await TerminalPages.WriteProblemAsync(context, StatusCodes.Status404NotFound, "No such terminal",
                "This address does not name a container. Run /terminal in Discord to get a working link.");
            return;
        }
        var nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        await TerminalPages.WriteTerminalAsync(context, container_id, nonce);
    }

    /// <summary>
    /// <c>POST /terminal/{id}/session</c> with <c>{"token":"…"}</c>, from the page's own origin: consumes the token once,
    /// sets the session cookie and answers whose container it is; every refusal is JSON with the status, a title and one
    /// sentence saying what to do. Three steps: <see cref="ReadRequestAsync"/> (origin, address, body),
    /// <see cref="RefuseUnusableContainerAsync"/> (only for a valid token: the container must be the owner's and running,
    /// and a refusal here leaves the link unused), then <see cref="AnswerAsync"/> (consume, open the session, or refuse).
    /// </summary>
    private static async Task RedeemAsync(HttpContext context, string container_id, TerminalLinks links, TerminalSessions sessions,
        IContainerRuntime runtime, IOptions<TerminalOptions> options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(TerminalEndpoints).FullName!);
        var containerId = container_id;
        context.Response.Headers.CacheControl = "no-store";
        try
        {
            if (await ReadRequestAsync(context, containerId, options.Value, logger) is not { } token)
                return;
            var check = await links.CheckAsync(token, containerId, context.RequestAborted);
            string? containerName = null;
            if (check is TokenCheck.Valid valid)
            {
                var container = await runtime.InspectAsync(containerId, context.RequestAborted);
                if (await RefuseUnusableContainerAsync(context, logger, containerId, container, valid.Owner))
                    return;
                containerName = container?.DisplayName;
                check = await links.ConsumeAsync(token, containerId, context.RequestAborted);
            }
            await AnswerAsync(context, logger, check, containerId, containerName, sessions, options.Value);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is EngineException or IOException or System.Data.Common.DbException or InvalidOperationException)
        {
            Log.RequestFailed(logger, e, containerId ?? "");
            if (!context.Response.HasStarted)
                await WriteRefusalAsync(context, StatusCodes.Status503ServiceUnavailable, "Terminal unavailable",
                    "The terminal service cannot reach Docker or its database right now. Your link was not used up; reload this page in a moment.");
        }
    }

    /// <summary>
    /// The token (empty when the JSON carries none: that is an unknown link, answered later) from a well-formed request from
    /// the page's own origin for a valid address; null after refusing anything else.
    /// </summary>
    private static async Task<string?> ReadRequestAsync(HttpContext context, string containerId, TerminalOptions options, ILogger logger)
    {
        if (!OriginAllowed(context, options, out var origin))
        {
            Log.RedeemOriginRefused(logger, origin, ExpectedOrigin(context));
            await WriteRefusalAsync(context, StatusCodes.Status403Forbidden, "Request refused",
                "This request did not come from the terminal page; open your link in the browser, or run /terminal again for a new one.");
            return null;
        }
        if (!IsValidContainerId(containerId))
        {
            await WriteRefusalAsync(context, StatusCodes.Status404NotFound, "No such terminal",
                "This address does not name a container. Run /terminal in Discord to get a working link.");
            return null;
        }
        if (await ReadTokenAsync(context) is not { } body)
        {
            await WriteRefusalAsync(context, StatusCodes.Status400BadRequest, "Bad request",
                "The terminal page sends {\"token\":\"…\"} as application/json; reload the link, or run /terminal again for a new one.");
            return null;
        }
        return body.Token ?? "";
    }

    /// <summary>
    /// Refuses (true) when the container is someone else's, gone or stopped. Defence in depth for the first: the issuer
    /// looked the container up for this owner, and the engine's owner label must agree.
    /// </summary>
    private static async Task<bool> RefuseUnusableContainerAsync(HttpContext context, ILogger logger, string containerId, EngineContainer? container, OwnerId owner)
    {
        switch (container.Presence())
        {
            case not ContainerPresence.Gone when container!.OwnerLabel is { } label && label != owner.ToString():
                await RefuseAsync(context, logger, containerId, StatusCodes.Status403Forbidden, "Not your container",
                    "This link is for a container that belongs to someone else. Run /terminal again to get a link for yours.");
                return true;
            case ContainerPresence.Gone:
                await RefuseAsync(context, logger, containerId, StatusCodes.Status404NotFound, "Container not found",
                    "The container this link was for no longer exists. Create one, then run /terminal again.");
                return true;
            case ContainerPresence.Stopped:
                await RefuseAsync(context, logger, containerId, StatusCodes.Status409Conflict, "Container stopped",
                    "The container this link is for is not running. Start it, then run /terminal again (this link was not used up).");
                return true;
            default:
                return false;
        }
    }

    /// <summary>Opens the session and sets its cookie for a consumed link; refuses every other outcome with what to do.</summary>
    private static async Task AnswerAsync(HttpContext context, ILogger logger, TokenCheck check, string containerId, string? containerName,
        TerminalSessions sessions, TerminalOptions options)
    {
        switch (check)
        {
            case TokenCheck.Valid accepted:
                var name = containerName ?? containerId;
                TerminalSession session;
                try
                {
                    session = await sessions.OpenAsync(accepted.Owner, containerId, name, accepted.ExpiresAt, context.RequestAborted);
                }
                catch (System.Data.Common.DbException e)
                {
                    // The link is spent by now, so the refusal in RedeemAsync ("not used up") would not be true.
                    Log.RequestFailed(logger, e, containerId);
                    await WriteRefusalAsync(context, StatusCodes.Status503ServiceUnavailable, "Terminal unavailable",
                        "The terminal service cannot reach its database right now; run /terminal again in a moment for a new link.");
                    return;
                }
                context.Response.Cookies.Append(CookieName, session.Id, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Secure = options.SecureCookies || context.Request.IsHttps,
                    Path = $"{context.Request.PathBase}/terminal/{containerId}",
                    IsEssential = true,
                });
                await context.Response.WriteAsJsonAsync(new RedeemAccepted(containerId, name, accepted.Owner.ToString(), accepted.ExpiresAt),
                    TerminalJsonContext.Default.RedeemAccepted, contentType: "application/json", context.RequestAborted);
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

    /// <summary>The request body as <see cref="RedeemRequest"/>: application/json, at most 1 KiB. Null for anything else.</summary>
    private static async Task<RedeemRequest?> ReadTokenAsync(HttpContext context)
    {
        const int MaxBodyBytes = 1024;
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type)
            || !string.Equals(type.MediaType.Value, "application/json", StringComparison.OrdinalIgnoreCase)
            || context.Request.ContentLength > MaxBodyBytes)
            return null;
        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted)) > 0)
            length += read;
        if (length > MaxBodyBytes)
            return null;
        try
        {
            return JsonSerializer.Deserialize(buffer.AsSpan(0, length), TerminalJsonContext.Default.RedeemRequest);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task WriteRefusalAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new RedeemRefused(status, title, detail), TerminalJsonContext.Default.RedeemRefused,
            contentType: "application/problem+json", context.RequestAborted);
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
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        TerminalSession? session;
        try
        {
            session = sessions.Find(cookie) ?? await sessions.ReopenAsync(cookie, container_id, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is EngineException or IOException or System.Data.Common.DbException or InvalidOperationException)
        {
            Log.RequestFailed(logger, e, container_id);
            await RejectAsync(socket, "The terminal service cannot reach Docker or its database right now; reload this page in a moment.", context.RequestAborted);
            return;
        }
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
        await WriteRefusalAsync(context, status, title, detail);
    }
}
