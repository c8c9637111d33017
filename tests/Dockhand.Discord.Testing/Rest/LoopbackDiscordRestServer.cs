using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Testing.Rest;

/// <summary>One request the server received.</summary>
public sealed record RecordedRequest(DateTimeOffset At, string Method, string Path, string Route, IReadOnlyDictionary<string, string> Headers, string Body, int Status)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>Scope of a scripted 429 (X-RateLimit-Scope).</summary>
public enum RateLimitScope
{
    User,
    Global,
    Shared,
}

/// <summary>A failure of Discord's edge or of the connection, scripted with <see cref="LoopbackDiscordRestServer.EnqueueFault"/>.</summary>
public enum RestFault
{
    /// <summary>The connection is cut before the request is processed (the client sees an HttpRequestException).</summary>
    DropBeforeProcessing,

    /// <summary>The request is processed (a callback is applied), then the connection is cut before the response.</summary>
    DropAfterProcessing,

    /// <summary>
    /// An HTML error page from the edge with the given status (500, 502, 503, 504, 524), nothing processed. With status
    /// 429 it is Cloudflare's ban for too many invalid requests: every request (interaction routes too) gets the same
    /// HTML 429 with Retry-After until it has passed, and is counted in <see cref="LoopbackDiscordRestServer.BanViolations"/>.
    /// </summary>
    EdgeError,
}

/// <summary>
/// A Discord REST server on 127.0.0.1 (Kestrel, port 0) that follows Discord's documented behaviour closely enough to
/// test a client: it records every request, checks Authorization and User-Agent, keeps interaction message state
/// (@original, follow-ups, and for a component interaction the message its component is attached to: a type 7
/// callback edits that message, and after a type 6 or 7 callback @original addresses it), stores commands, emits X-RateLimit-* headers from scriptable buckets, answers 429s
/// (per route, global, shared) on script or when a client exceeds a bucket or the global limit, and rejects bodies
/// that break Discord's limits with Discord's error shape.
/// Routes are named like "POST /interactions/{interaction_id}/{interaction_token}/callback" (see <see cref="Routes"/>).
/// </summary>
public sealed partial class LoopbackDiscordRestServer : IAsyncDisposable
{
    public static class Routes
    {
        public const string InteractionCallback = "POST /interactions/{interaction_id}/{interaction_token}/callback";
        public const string GetOriginal = "GET /webhooks/{application_id}/{interaction_token}/messages/@original";
        public const string EditOriginal = "PATCH /webhooks/{application_id}/{interaction_token}/messages/@original";
        public const string DeleteOriginal = "DELETE /webhooks/{application_id}/{interaction_token}/messages/@original";
        public const string FollowUp = "POST /webhooks/{application_id}/{interaction_token}";
        public const string GlobalCommands = "PUT /applications/{application_id}/commands";
        public const string GuildCommands = "PUT /applications/{application_id}/guilds/{guild_id}/commands";
        public const string GetGlobalCommands = "GET /applications/{application_id}/commands";
        public const string GetGuildCommands = "GET /applications/{application_id}/guilds/{guild_id}/commands";
        public const string CurrentApplication = "GET /oauth2/applications/@me";
        public const string GatewayBot = "GET /gateway/bot";
        public const string GetUser = "GET /users/{user_id}";
        public const string ChannelMessage = "POST /channels/{channel_id}/messages";
    }

    private static readonly (Regex Pattern, string Route, bool Exempt)[] RouteTable =
    [
        (new(@"^POST /interactions/(\d+)/([^/]+)/callback$"), Routes.InteractionCallback, true),
        (new(@"^GET /webhooks/(\d+)/([^/]+)/messages/@original$"), Routes.GetOriginal, true),
        (new(@"^PATCH /webhooks/(\d+)/([^/]+)/messages/@original$"), Routes.EditOriginal, true),
        (new(@"^DELETE /webhooks/(\d+)/([^/]+)/messages/@original$"), Routes.DeleteOriginal, true),
        (new(@"^POST /webhooks/(\d+)/([^/]+)$"), Routes.FollowUp, true),
        (new(@"^PUT /applications/(\d+)/commands$"), Routes.GlobalCommands, false),
        (new(@"^PUT /applications/(\d+)/guilds/(\d+)/commands$"), Routes.GuildCommands, false),
        (new(@"^GET /applications/(\d+)/commands$"), Routes.GetGlobalCommands, false),
        (new(@"^GET /applications/(\d+)/guilds/(\d+)/commands$"), Routes.GetGuildCommands, false),
        (new(@"^GET /oauth2/applications/@me$"), Routes.CurrentApplication, false),
        (new(@"^GET /gateway/bot$"), Routes.GatewayBot, false),
        (new(@"^GET /users/(\d+)$"), Routes.GetUser, false),
        (new(@"^POST /channels/(\d+)/messages$"), Routes.ChannelMessage, false),
    ];

    [GeneratedRegex(@"^DiscordBot \((\S+), ([^)]+)\)")]
    private static partial Regex UserAgentPattern();

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly Dictionary<string, JsonObject> _originals = [];
    private readonly Dictionary<string, List<JsonObject>> _followUps = [];
    /// <summary>Every message the server holds, by id; @original and follow-up entries share these objects.</summary>
    private readonly Dictionary<string, JsonObject> _messages = [];
    /// <summary>Component interaction token → the message its component is attached to.</summary>
    private readonly Dictionary<string, JsonObject> _componentMessages = [];
    private readonly Dictionary<ulong, JsonObject> _callbacks = [];
    private readonly Dictionary<string, JsonArray> _commands = [];
    private readonly Dictionary<ulong, JsonObject> _users = [];
    private readonly Dictionary<string, (string Bucket, int Limit, TimeSpan Window)> _scriptedBuckets = [];
    private readonly Dictionary<string, BucketState> _bucketStates = [];
    private readonly List<(string Route, TimeSpan RetryAfter, RateLimitScope Scope)> _scripted429 = [];
    private readonly Queue<DateTimeOffset> _globalWindow = new();
    private readonly List<(string Route, RestFault Fault, int Status, TimeSpan RetryAfter)> _scriptedFaults = [];
    private DateTimeOffset _bannedUntil;
    /// <summary>Route (with its major parameters) → end of the 429 it was answered.</summary>
    private readonly Dictionary<string, DateTimeOffset> _routePausedUntil = [];
    private DateTimeOffset _globalPausedUntil;
    private long _nextId = 1_300_000_000_000_000_000;

    private LoopbackDiscordRestServer(WebApplication app, string token, ulong applicationId, TimeProvider time)
    {
        _app = app;
        Token = token;
        ApplicationId = applicationId;
        Time = time;
    }

    /// <summary>The token the server accepts in "Authorization: Bot {token}".</summary>
    public string Token { get; }

    public ulong ApplicationId { get; }

    public string ApplicationName { get; set; } = "Dockhand Test";

    /// <summary>The clock the buckets use (a FakeTimeProvider in tests that control time).</summary>
    public TimeProvider Time { get; }

    /// <summary>Base URL to give the client as DISCORD_API_BASE_URL (…/api/v10).</summary>
    public Uri ApiBaseUrl { get; private set; } = null!;

    /// <summary>What GET /gateway/bot returns (point it at a loopback gateway).</summary>
    public Uri GatewayUrl { get; set; } = new("wss://gateway.discord.gg");

    public int MaxConcurrency { get; set; } = 1;

    /// <summary>Global limit per second across non-exempt routes (Discord: 50).</summary>
    public int GlobalLimitPerSecond { get; set; } = 50;

    /// <summary>Default bucket for routes without a scripted one.</summary>
    public int DefaultBucketLimit { get; set; } = 100;

    public TimeSpan DefaultBucketWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an interaction token stays valid for webhook routes (Discord: 15 minutes).</summary>
    public TimeSpan InteractionTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Requests that exceeded a bucket the server had announced, or came before a route's 429 had passed (a correct client makes none).</summary>
    public int BucketViolations { get; private set; }

    /// <summary>Requests beyond the global limit, or during a global 429 (a correct client makes none).</summary>
    public int GlobalViolations { get; private set; }

    /// <summary>Webhook calls that arrived while their interaction's HTTP response was still unknown (answered 404).</summary>
    public int OvertakingWebhookCalls { get; private set; }

    /// <summary>Initial responses (callbacks or HTTP bodies) that came more than 3 s after the interaction was sent.</summary>
    public int LateCallbacks { get; private set; }

    /// <summary>Bulk overwrite calls received (global and guild).</summary>
    public int CommandOverwriteCount => Requests.Count(r => r.Route is Routes.GlobalCommands or Routes.GuildCommands && r.Status == 200);

    public static async Task<LoopbackDiscordRestServer> StartAsync(string token = "test-bot-token", ulong applicationId = 1_100_000_000_000_000_001,
        TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxRequestBodySize = 1024 * 1024;
        });
        var app = builder.Build();
        var server = new LoopbackDiscordRestServer(app, token, applicationId, time ?? TimeProvider.System);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Urls.First();
        server.ApiBaseUrl = new Uri(address.TrimEnd('/') + "/api/v10");
        return server;
    }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate)
                return [.. _requests];
        }
    }

    public IReadOnlyList<RecordedRequest> RequestsTo(string route) => [.. Requests.Where(r => r.Route == route)];

    public void AddUser(ulong id, string username, string? globalName = null)
    {
        lock (_gate)
            _users[id] = InteractionPayloads.User(id, username, globalName);
    }

    /// <summary>The current @original message of an interaction token (null when none or deleted).</summary>
    public JsonObject? GetOriginal(string interactionToken)
    {
        lock (_gate)
            return _originals.TryGetValue(interactionToken, out var m) ? (JsonObject)m.DeepClone() : null;
    }

    public IReadOnlyList<JsonObject> GetFollowUps(string interactionToken)
    {
        lock (_gate)
            return _followUps.TryGetValue(interactionToken, out var l) ? [.. l.Select(m => (JsonObject)m.DeepClone())] : [];
    }

    /// <summary>
    /// Tells the server about an interaction Discord is delivering (SendHttpInteractionAsync does this itself; call it
    /// before dispatching one over a gateway). For a component interaction it records the attached message
    /// (<c>payload.message</c>): when its id is a message this server sent, that very message is the one a type 7
    /// callback or a later @original edit changes. <paramref name="sentAt"/>: when Discord sent it, for one that reaches
    /// the bot late (a gateway's backlog after a resume); its 3 s for the first response run from then.
    /// </summary>
    public void ObserveInteraction(JsonObject payload, DateTimeOffset? sentAt = null)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (payload["token"]?.GetValue<string>() is { } sentToken
            && ulong.TryParse(payload["id"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out var sentId))
        {
            lock (_gate)
            {
                var now = sentAt ?? Time.GetUtcNow();
                _interactionSentAt.TryAdd(sentId, now);
                _tokenSentAt.TryAdd(sentToken, now);
            }
        }
        if (payload["type"]?.GetValue<int>() != 3 || payload["token"]?.GetValue<string>() is not { } token || payload["message"] is not JsonObject attached)
            return;
        lock (_gate)
        {
            var id = attached["id"]?.GetValue<string>() ?? NextId();
            if (!_messages.TryGetValue(id, out var message))
            {
                message = (JsonObject)attached.DeepClone();
                message["id"] = id;
                _messages[id] = message;
            }
            _componentMessages[token] = message;
        }
    }

    /// <summary>The message with this id as the server holds it now (null when unknown).</summary>
    public JsonObject? GetMessage(string messageId)
    {
        lock (_gate)
            return _messages.TryGetValue(messageId, out var m) ? (JsonObject)m.DeepClone() : null;
    }

    /// <summary>The callback body received for an interaction id, or null.</summary>
    public JsonObject? GetCallback(ulong interactionId)
    {
        lock (_gate)
            return _callbacks.TryGetValue(interactionId, out var c) ? (JsonObject)c.DeepClone() : null;
    }

    /// <summary>Waits (real time) until a callback for <paramref name="interactionId"/> arrives.</summary>
    public async Task<JsonObject> WaitForCallbackAsync(ulong interactionId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (GetCallback(interactionId) is { } c)
                return c;
            await Task.Delay(10, cancellationToken);
        }
        throw new TimeoutException($"No callback for interaction {interactionId} within {timeout}.");
    }

    /// <summary>The commands last stored globally (<paramref name="guildId"/> null) or for a guild.</summary>
    public JsonArray? GetCommands(ulong? guildId = null)
    {
        lock (_gate)
            return _commands.TryGetValue(CommandsKey(guildId), out var c) ? (JsonArray)c.DeepClone() : null;
    }

    /// <summary>
    /// Puts commands in place as if an earlier bulk overwrite had stored them (a Discord application that already has
    /// commands when a test starts): each gets a new id and version and Discord's added fields, as a PUT would.
    /// </summary>
    public void SetCommands(ulong? guildId, JsonArray commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        lock (_gate)
            _commands[CommandsKey(guildId)] = new JsonArray([.. commands.OfType<JsonObject>()
                .Select(c => (JsonNode)AsStoredCommand(c, guildId?.ToString(CultureInfo.InvariantCulture)))]);
    }

    /// <summary>Scripts a bucket: requests on <paramref name="route"/> share <paramref name="bucketId"/> with this limit per window.</summary>
    public void SetBucket(string route, string bucketId, int limit, TimeSpan window)
    {
        lock (_gate)
            _scriptedBuckets[route] = (bucketId, limit, window);
    }

    /// <summary>
    /// The next request on <paramref name="route"/> (or any route when "*") gets a 429 with this scope and retry_after;
    /// until retry_after has passed, every further request on that route (on every route but the interaction endpoints,
    /// when global) is refused with a 429 too and counted in <see cref="BucketViolations"/> (<see cref="GlobalViolations"/>).
    /// </summary>
    public void EnqueueRateLimit(string route, TimeSpan retryAfter, RateLimitScope scope = RateLimitScope.User)
    {
        lock (_gate)
            _scripted429.Add((route, retryAfter, scope));
    }

    /// <summary>
    /// The next request on <paramref name="route"/> (or any route when "*") meets <paramref name="fault"/>;
    /// <paramref name="status"/> is the edge's status for <see cref="RestFault.EdgeError"/>. The request is recorded with
    /// status 0 when the connection was cut.
    /// </summary>
    public void EnqueueFault(string route, RestFault fault, int status = 502, TimeSpan? retryAfter = null)
    {
        lock (_gate)
            _scriptedFaults.Add((route, fault, status, retryAfter ?? TimeSpan.FromSeconds(60)));
    }

    /// <summary>Requests sent while an edge ban (HTML 429) was in force (a correct client makes none).</summary>
    public int BanViolations { get; private set; }

    /// <summary>
    /// For the HTTP transport, where the initial response is the HTTP body of POST /interactions: apply it as if it
    /// had been POSTed to the callback route. Returns the status the callback route would have answered.
    /// </summary>
    public int AcceptInteractionResponse(ulong interactionId, string interactionToken, string responseJson)
    {
        lock (_gate)
            return Callback(interactionId, interactionToken, JsonNode.Parse(responseJson) as JsonObject, Time.GetUtcNow()).Item1;
    }

    /// <summary>The longest the server waits, in real time, for a request body or for the endpoint's HTTP response.</summary>
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Tokens of HTTP interactions whose response the server is still waiting for.</summary>
    private readonly HashSet<string> _pendingHttp = [];

    /// <summary>
    /// Plays Discord for the HTTP transport: signs <paramref name="payload"/> with <paramref name="signer"/>, POSTs it
    /// to <paramref name="endpoint"/>, and applies a 200 response body as the interaction's initial response. Webhook
    /// calls for the interaction's token that arrive before it is applied are answered 404 (10015), as Discord does.
    /// </summary>
    public async Task<HttpResponseMessage> SendHttpInteractionAsync(HttpClient http, Uri endpoint, InteractionSigner signer, JsonObject payload,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(payload);
        var token = payload["token"]!.GetValue<string>();
        var id = ulong.Parse(payload["id"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        ObserveInteraction(payload);
        lock (_gate)
            _pendingHttp.Add(token);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ReadTimeout);
            using var request = signer.CreateRequest(endpoint, payload.ToJsonString(), Time.GetUtcNow());
            var response = await http.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode && payload["type"]?.GetValue<int>() != 1)
            {
                var body = await response.Content.ReadAsStringAsync(timeout.Token);
                AcceptInteractionResponse(id, token, body);
            }
            return response;
        }
        finally
        {
            lock (_gate)
                _pendingHttp.Remove(token);
        }
    }

    private static string CommandsKey(ulong? guildId) => guildId is { } g ? "guild:" + g.ToString(CultureInfo.InvariantCulture) : "global";

    private string NextId() => Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        // Bounded in real time: a client that never finishes its body fails the test instead of hanging it.
        using (var readTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            readTimeout.CancelAfter(ReadTimeout);
            body = await reader.ReadToEndAsync(readTimeout.Token);
        }
        var path = request.Path.Value ?? "";
        const string prefix = "/api/v10";
        // Discord serves the API under /api/v{version}; this server speaks v10 only, so anything else is not found.
        var versioned = path.StartsWith(prefix + "/", StringComparison.Ordinal);
        var relative = versioned ? path[prefix.Length..] : path;
        var signature = request.Method + " " + relative;
        var match = versioned ? RouteTable.Select(r => (r, m: r.Pattern.Match(signature))).FirstOrDefault(x => x.m.Success) : default;
        var route = match.m?.Success == true ? match.r.Route : signature;
        var parameters = match.m?.Success == true ? match.m.Groups.Values.Skip(1).Select(g => g.Value).ToArray() : [];
        var exempt = match.m?.Success == true && match.r.Exempt;

        // No hold for a webhook call that overtakes the HTTP response of its interaction: Discord does not know the
        // response yet, so @original does not exist and the call is answered 404 (10015 Unknown Webhook), as for any
        // token without a response. Counted in OvertakingWebhookCalls.
        if (route.Contains("/webhooks/", StringComparison.Ordinal) && parameters.Length >= 2)
        {
            lock (_gate)
                if (_pendingHttp.Contains(parameters[1]) && !_tokenIssued.ContainsKey(parameters[1]))
                    OvertakingWebhookCalls++;
        }

        int status;
        JsonNode? responseBody;
        (RestFault Fault, int Status)? fault = null;
        TimeSpan banLeft = default;
        lock (_gate)
        {
            var now = Time.GetUtcNow();
            var f = _scriptedFaults.FindIndex(x => x.Route == route || x.Route == "*");
            if (now < _bannedUntil)
            {
                BanViolations++;
                fault = (RestFault.EdgeError, 429);
                banLeft = _bannedUntil - now;
            }
            else if (f >= 0)
            {
                fault = (_scriptedFaults[f].Fault, _scriptedFaults[f].Status);
                if (fault.Value.Status == 429)
                    _bannedUntil = now + (banLeft = _scriptedFaults[f].RetryAfter);
                _scriptedFaults.RemoveAt(f);
            }
            (status, responseBody) = fault?.Fault switch
            {
                RestFault.DropBeforeProcessing => (0, null),
                RestFault.EdgeError => (fault.Value.Status, null),
                _ => Process(context, request.Method, route, parameters, exempt, match.m?.Success == true, body),
            };
            _requests.Add(new RecordedRequest(Time.GetUtcNow(), request.Method, relative + request.QueryString, route,
                request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body,
                fault?.Fault is RestFault.DropAfterProcessing ? 0 : status));
        }
        if (fault?.Fault is RestFault.DropBeforeProcessing or RestFault.DropAfterProcessing)
        {
            context.Abort();
            return;
        }
        if (fault?.Fault is RestFault.EdgeError)
        {
            // What Cloudflare sends: an HTML page, not Discord's JSON error shape.
            context.Response.StatusCode = status;
            if (status == 429)
                context.Response.Headers.RetryAfter = Math.Ceiling(banLeft.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync($"<html><body><h1>{status}</h1>error code: {status}</body></html>", context.RequestAborted);
            return;
        }
        context.Response.StatusCode = status;
        if (responseBody is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(responseBody.ToJsonString(), context.RequestAborted);
        }
    }

    private (int, JsonNode?) Process(HttpContext context, string method, string route, string[] p, bool exempt, bool known, string body)
    {
        var headers = context.Request.Headers;
        var response = context.Response;
        if (!UserAgentPattern().IsMatch(headers.UserAgent.ToString()))
            return (400, Error(0, "A User-Agent of the form 'DiscordBot ($url, $versionNumber)' is required"));
        if (!known)
            return (404, Error(0, "404: Not Found"));
        if (!exempt && !string.Equals(headers.Authorization.ToString(), "Bot " + Token, StringComparison.Ordinal))
            return (401, Error(0, "401: Unauthorized"));

        var now = Time.GetUtcNow();
        var major = route.StartsWith("POST /interactions", StringComparison.Ordinal) || route.Contains("/webhooks/", StringComparison.Ordinal)
            ? string.Join('/', p.Take(2))
            : route is Routes.GuildCommands or Routes.GetGuildCommands ? p[1] : route == Routes.ChannelMessage ? p[0] : "";
        var pauseKey = route + "|" + major;
        // A 429 holds until its retry_after has passed: every request sent before then is refused again and counted.
        // The global one does not bind interaction endpoints (Rate Limits, "Global Rate Limit": "Interaction endpoints
        // are not bound to the bot's Global Rate Limit").
        if (!exempt && now < _globalPausedUntil)
        {
            GlobalViolations++;
            return RateLimited(response, _globalPausedUntil - now, RateLimitScope.Global);
        }
        if (_routePausedUntil.TryGetValue(pauseKey, out var routePaused) && now < routePaused)
        {
            BucketViolations++;
            return RateLimited(response, routePaused - now, RateLimitScope.User);
        }
        // Scripted 429s next.
        var scripted = _scripted429.FindIndex(s => s.Route == route || s.Route == "*");
        if (scripted >= 0)
        {
            var (_, retryAfter, scope) = _scripted429[scripted];
            _scripted429.RemoveAt(scripted);
            if (scope == RateLimitScope.Global)
                _globalPausedUntil = now + retryAfter;
            else
                _routePausedUntil[pauseKey] = now + retryAfter;
            return RateLimited(response, retryAfter, scope);
        }
        // Global limit.
        if (!exempt)
        {
            while (_globalWindow.Count > 0 && _globalWindow.Peek() <= now - TimeSpan.FromSeconds(1))
                _globalWindow.Dequeue();
            if (_globalWindow.Count >= GlobalLimitPerSecond)
            {
                GlobalViolations++;
                return RateLimited(response, _globalWindow.Peek() + TimeSpan.FromSeconds(1) - now, RateLimitScope.Global);
            }
            _globalWindow.Enqueue(now);
        }
        // Per-route bucket.
        var (bucketId, limit, window) = _scriptedBuckets.TryGetValue(route, out var b)
            ? b
            : (Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(route)))[..16], DefaultBucketLimit, DefaultBucketWindow);
        var stateKey = bucketId + "|" + major;
        if (!_bucketStates.TryGetValue(stateKey, out var state) || now >= state.ResetAt)
            _bucketStates[stateKey] = state = new BucketState { Remaining = limit, ResetAt = now + window };
        var resetAfter = state.ResetAt - now;
        if (state.Remaining <= 0)
        {
            BucketViolations++;
            SetRateLimitHeaders(response, limit, 0, state.ResetAt, resetAfter, bucketId);
            return RateLimited(response, resetAfter, RateLimitScope.User);
        }
        state.Remaining--;
        SetRateLimitHeaders(response, limit, state.Remaining, state.ResetAt, resetAfter, bucketId);

        JsonNode? json = null;
        if (body.Length > 0)
        {
            try
            {
                json = JsonNode.Parse(body);
            }
            catch (JsonException)
            {
                return (400, Error(50109, "The request body contains invalid JSON."));
            }
        }
        return route switch
        {
            Routes.InteractionCallback => Callback(ulong.Parse(p[0], CultureInfo.InvariantCulture), p[1], json as JsonObject, now),
            Routes.GetOriginal => WithOriginal(p, now, m => (200, m.DeepClone())),
            Routes.EditOriginal => WithOriginal(p, now, m => EditOriginal(m, json as JsonObject)),
            Routes.DeleteOriginal => WithOriginal(p, now, m =>
            {
                // The message is gone for every interaction that addressed it.
                _messages.Remove(m["id"]!.GetValue<string>());
                foreach (var token in _originals.Where(o => ReferenceEquals(o.Value, m)).Select(o => o.Key).ToList())
                    _originals.Remove(token);
                return (204, null);
            }),
            Routes.FollowUp => FollowUp(p, json as JsonObject, now),
            Routes.GlobalCommands => Commands(p[0], null, json),
            Routes.GuildCommands => Commands(p[0], p[1], json),
            Routes.GetGlobalCommands => ListCommands(p[0], null, context.Request.Query["with_localizations"].ToString()),
            Routes.GetGuildCommands => ListCommands(p[0], p[1], context.Request.Query["with_localizations"].ToString()),
            Routes.CurrentApplication => (200, new JsonObject { ["id"] = Id(ApplicationId), ["name"] = ApplicationName, ["description"] = "", ["bot_public"] = true }),
            Routes.GatewayBot => (200, new JsonObject
            {
                ["url"] = GatewayUrl.AbsoluteUri.TrimEnd('/'),
                ["shards"] = 1,
                ["session_start_limit"] = new JsonObject { ["total"] = 1000, ["remaining"] = 999, ["reset_after"] = 14_400_000, ["max_concurrency"] = MaxConcurrency },
            }),
            Routes.ChannelMessage => ChannelMessage(p[0], json as JsonObject),
            Routes.GetUser => _users.TryGetValue(ulong.Parse(p[0], CultureInfo.InvariantCulture), out var u) ? (200, u.DeepClone()) : (404, Error(10013, "Unknown User")),
            _ => (404, Error(0, "404: Not Found")),
        };
    }

    private readonly Dictionary<string, DateTimeOffset> _tokenIssued = [];
    /// <summary>When Discord sent each interaction the server was told about (ObserveInteraction), by id and by token.</summary>
    private readonly Dictionary<ulong, DateTimeOffset> _interactionSentAt = [];
    private readonly Dictionary<string, DateTimeOffset> _tokenSentAt = [];

    /// <summary>Discord's deadline for the first response (Receiving and Responding: "within 3 seconds").</summary>
    public static readonly TimeSpan InitialResponseDeadline = TimeSpan.FromSeconds(3);

    private (int, JsonNode?) Callback(ulong interactionId, string token, JsonObject? body, DateTimeOffset now)
    {
        if (_callbacks.ContainsKey(interactionId))
            return (400, Error(40060, "Interaction has already been acknowledged."));
        // Receiving and Responding: the first response must arrive within 3 s of the interaction, or the token is
        // invalidated and the user sees "This interaction failed". Only known for interactions the server was told of.
        if (_interactionSentAt.TryGetValue(interactionId, out var sentAt) && now - sentAt > InitialResponseDeadline)
        {
            LateCallbacks++;
            return (404, Error(10062, "Unknown interaction"));
        }
        var type = body?["type"] is JsonValue t && t.TryGetValue<int>(out var ti) ? ti : -1;
        var data = body?["data"] as JsonObject;
        var problems = type switch
        {
            4 => MessageRules.CheckMessage(data, "data", create: true),
            5 or 6 => [],
            7 => MessageRules.CheckMessage(data, "data", create: false),
            8 => MessageRules.CheckChoices(data),
            _ => [("type", "Value must be one of {4, 5, 6, 7, 8}.")],
        };
        if (problems.Count > 0)
            return (400, MessageRules.FormError(problems));
        _callbacks[interactionId] = body!;
        _tokenIssued.TryAdd(token, now);
        var flags = data?["flags"] is JsonValue f && f.TryGetValue<int>(out var fi) ? fi : 0;
        if (type == 4)
            _originals[token] = NewMessage(data!, flags);
        else if (type == 5)
            _originals[token] = NewMessage(new JsonObject { ["content"] = "" }, (flags & 64) | 128);
        else if (type is 6 or 7)
        {
            // Discord: 7 edits the message the component is attached to; after 6 or 7, @original is that message.
            // A component interaction the server was not told about gets a stand-in message.
            if (!_componentMessages.TryGetValue(token, out var attached))
                _componentMessages[token] = attached = NewMessage(new JsonObject { ["content"] = "" }, 0);
            if (type == 7)
                ApplyEdit(attached, data);
            _originals[token] = attached;
        }
        return (204, null);
    }

    private JsonObject NewMessage(JsonObject data, int flags)
    {
        var m = new JsonObject
        {
            ["id"] = NextId(),
            ["channel_id"] = "1300000000000000000",
            ["type"] = 20,
            ["content"] = data["content"]?.DeepClone() ?? "",
            ["embeds"] = data["embeds"]?.DeepClone() ?? new JsonArray(),
            ["components"] = data["components"]?.DeepClone() ?? new JsonArray(),
            ["flags"] = flags,
            ["author"] = InteractionPayloads.User(ApplicationId, ApplicationName),
            ["timestamp"] = Time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
        };
        _messages[m["id"]!.GetValue<string>()] = m;
        return m;
    }

    private (int, JsonNode?) WithOriginal(string[] p, DateTimeOffset now, Func<JsonObject, (int, JsonNode?)> action)
    {
        if (p[0] != Id(ApplicationId) || !_tokenIssued.TryGetValue(p[1], out var issued))
            return (404, Error(10015, "Unknown Webhook"));
        if (now - _tokenSentAt.GetValueOrDefault(p[1], issued) > InteractionTokenLifetime)
            return (401, Error(50027, "Invalid Webhook Token"));
        return _originals.TryGetValue(p[1], out var m) ? action(m) : (404, Error(10008, "Unknown Message"));
    }

    private (int, JsonNode?) EditOriginal(JsonObject message, JsonObject? edit)
    {
        var problems = MessageRules.CheckMessage(edit, "", create: false);
        if (problems.Count > 0)
            return (400, MessageRules.FormError(problems));
        ApplyEdit(message, edit);
        return (200, message.DeepClone());
    }

    /// <summary>Applies the present parts of an edit (content, embeds, components) and ends the loading state.</summary>
    private static void ApplyEdit(JsonObject message, JsonObject? edit)
    {
        foreach (var key in new[] { "content", "embeds", "components" })
            if (edit?[key] is { } v)
                message[key] = v.DeepClone();
        message["flags"] = (message["flags"]?.GetValue<int>() ?? 0) & ~128;
    }

    private (int, JsonNode?) FollowUp(string[] p, JsonObject? body, DateTimeOffset now)
    {
        if (p[0] != Id(ApplicationId) || !_tokenIssued.TryGetValue(p[1], out var issued))
            return (404, Error(10015, "Unknown Webhook"));
        if (now - _tokenSentAt.GetValueOrDefault(p[1], issued) > InteractionTokenLifetime)
            return (401, Error(50027, "Invalid Webhook Token"));
        var problems = MessageRules.CheckMessage(body, "", create: true);
        if (problems.Count > 0)
            return (400, MessageRules.FormError(problems));
        var flags = body?["flags"] is JsonValue f && f.TryGetValue<int>(out var fi) ? fi & 64 : 0;
        var message = NewMessage(body!, flags);
        if (!_followUps.TryGetValue(p[1], out var list))
            _followUps[p[1]] = list = [];
        list.Add(message);
        return (200, message.DeepClone());
    }

    private readonly Dictionary<string, List<JsonObject>> _channelMessages = [];

    /// <summary>Messages the bot posted to a channel with its token (POST /channels/{id}/messages).</summary>
    public IReadOnlyList<JsonObject> GetChannelMessages(ulong channelId)
    {
        lock (_gate)
            return _channelMessages.TryGetValue(Id(channelId), out var l) ? [.. l.Select(m => (JsonObject)m.DeepClone())] : [];
    }

    private (int, JsonNode?) ChannelMessage(string channelId, JsonObject? body)
    {
        var problems = MessageRules.CheckMessage(body, "", create: true);
        if (problems.Count > 0)
            return (400, MessageRules.FormError(problems));
        var message = NewMessage(body!, 0);
        message["channel_id"] = channelId;
        message["type"] = 0;
        if (!_channelMessages.TryGetValue(channelId, out var list))
            _channelMessages[channelId] = list = [];
        list.Add(message);
        return (200, message.DeepClone());
    }

    private (int, JsonNode?) Commands(string applicationId, string? guildId, JsonNode? body)
    {
        if (applicationId != Id(ApplicationId))
            return (403, Error(50001, "Missing Access"));
        var problems = MessageRules.CheckCommands(body).ToList();
        // Application Commands: contexts is "only for globally-scoped commands". Discord may ignore it on a guild
        // command; refusing it here makes a client that sends it visible.
        if (guildId is not null && body is JsonArray sent)
            for (var i = 0; i < sent.Count; i++)
                if (sent[i] is JsonObject c && c.ContainsKey("contexts"))
                    problems.Add(($"{i}.contexts", "Only global commands take contexts"));
        if (problems.Count > 0)
            return (400, MessageRules.FormError(problems));
        var stored = new JsonArray([.. ((JsonArray)body!).OfType<JsonObject>().Select(c => (JsonNode)AsStoredCommand(c, guildId))]);
        _commands[CommandsKey(guildId is null ? null : ulong.Parse(guildId, CultureInfo.InvariantCulture))] = stored;
        // "Returns 200 and a list of application command objects" (Bulk Overwrite …): all fields, localizations included.
        return (200, stored.DeepClone());
    }

    /// <summary>
    /// GET …/commands (Get Global / Guild Application Commands): the commands a bulk overwrite stored, [] when none.
    /// Without with_localizations (a boolean query string: True, true or 1) the name_localizations and
    /// description_localizations dictionaries are left out (Application Commands, "Retrieving localized commands": these
    /// endpoints give only name_localized/description_localized, for the requester's locale, which this server does not
    /// model).
    /// </summary>
    private (int, JsonNode?) ListCommands(string applicationId, string? guildId, string withLocalizations)
    {
        if (applicationId != Id(ApplicationId))
            return (403, Error(50001, "Missing Access"));
        var stored = _commands.TryGetValue(CommandsKey(guildId is null ? null : ulong.Parse(guildId, CultureInfo.InvariantCulture)), out var c) ? (JsonArray)c.DeepClone() : [];
        if (withLocalizations is not ("True" or "true" or "1"))
            foreach (var command in stored.OfType<JsonObject>())
                StripLocalizations(command);
        return (200, stored);

        static void StripLocalizations(JsonObject node)
        {
            node.Remove("name_localizations");
            node.Remove("description_localizations");
            foreach (var key in new[] { "options", "choices" })
                if (node[key] is JsonArray children)
                    foreach (var child in children.OfType<JsonObject>())
                        StripLocalizations(child);
        }
    }

    /// <summary>
    /// A command as Discord keeps and returns it (Application Command Object, and the OpenAPI spec's
    /// ApplicationCommandResponse): what was sent plus id, application_id, version (new on every overwrite), guild_id for
    /// a guild's, type 1 when unset, default_member_permissions as a string (sent as an integer) or null, nsfw false,
    /// the localization dictionaries (null when unset), the deprecated default_permission (true) and, for a global
    /// command, dm_permission (true), contexts (null when unset) and integration_types (the app's default, [0]).
    /// </summary>
    private JsonObject AsStoredCommand(JsonObject sent, string? guildId)
    {
        var copy = (JsonObject)sent.DeepClone();
        copy["id"] = NextId();
        copy["application_id"] = Id(ApplicationId);
        copy["version"] = NextId();
        if (guildId is not null)
            copy["guild_id"] = guildId;
        copy["type"] ??= 1;
        copy["default_member_permissions"] = copy["default_member_permissions"] is JsonValue permissions && permissions.GetValueKind() == JsonValueKind.Number
            ? permissions.GetValue<long>().ToString(CultureInfo.InvariantCulture)
            : copy["default_member_permissions"]?.DeepClone();
        copy["nsfw"] ??= false;
        copy["default_permission"] ??= true;
        if (guildId is null)
        {
            copy["dm_permission"] ??= true;
            if (!copy.ContainsKey("contexts"))
                copy["contexts"] = null;
            copy["integration_types"] ??= new JsonArray(0);
        }
        AddLocalizations(copy);
        return copy;

        static void AddLocalizations(JsonObject node)
        {
            if (!node.ContainsKey("name_localizations"))
                node["name_localizations"] = null;
            if (node.ContainsKey("description") && !node.ContainsKey("description_localizations"))
                node["description_localizations"] = null;
            foreach (var key in new[] { "options", "choices" })
                if (node[key] is JsonArray children)
                    foreach (var child in children.OfType<JsonObject>())
                        AddLocalizations(child);
        }
    }

    private static void SetRateLimitHeaders(HttpResponse response, int limit, int remaining, DateTimeOffset resetAt, TimeSpan resetAfter, string bucket)
    {
        response.Headers["X-RateLimit-Limit"] = limit.ToString(CultureInfo.InvariantCulture);
        response.Headers["X-RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers["X-RateLimit-Reset"] = (resetAt.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
        response.Headers["X-RateLimit-Reset-After"] = Math.Max(0, resetAfter.TotalSeconds).ToString("0.000", CultureInfo.InvariantCulture);
        response.Headers["X-RateLimit-Bucket"] = bucket;
    }

    private static (int, JsonNode?) RateLimited(HttpResponse response, TimeSpan retryAfter, RateLimitScope scope)
    {
        var seconds = Math.Max(0, retryAfter.TotalSeconds);
        var global = scope == RateLimitScope.Global;
        response.Headers["Retry-After"] = Math.Ceiling(seconds).ToString(CultureInfo.InvariantCulture);
        response.Headers["X-RateLimit-Scope"] = scope.ToString().ToLowerInvariant();
        if (global)
            response.Headers["X-RateLimit-Global"] = "true";
        return (429, new JsonObject { ["message"] = "You are being rate limited.", ["retry_after"] = Math.Round(seconds, 3), ["global"] = global, ["code"] = 0 });
    }

    private static JsonObject Error(int code, string message) => new() { ["code"] = code, ["message"] = message };

    private static string Id(ulong id) => id.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class BucketState
    {
        public int Remaining { get; set; }
        public DateTimeOffset ResetAt { get; set; }
    }
}
