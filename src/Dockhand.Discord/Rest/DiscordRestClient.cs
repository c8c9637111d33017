using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Dockhand.Discord.Commands;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.JsonModels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Rest;

/// <summary>
/// A Discord REST call failed (after rate-limit retries). <see cref="Code"/> is Discord's JSON error code, when sent;
/// <see cref="Route"/> the route template, e.g. "GET /gateway/bot".
/// </summary>
public sealed class DiscordRestException(HttpStatusCode status, int code, string message, string? route = null)
    : Exception($"Discord answered {(int)status}{(route is null ? "" : " to " + route)}: {message} (code {code}).")
{
    public HttpStatusCode Status { get; } = status;
    public int Code { get; } = code;
    public string? Route { get; } = route;

    /// <summary>A 401 on a route that carried the bot token: the token is wrong or was reset.</summary>
    public bool BotTokenRejected { get; init; }
}

/// <summary>
/// Discord REST client: Bot authorisation (only on routes that need it), a DiscordBot User-Agent, and rate limiting (<see cref="DiscordRateLimiter"/>).
/// Thread-safe; one per process (registered by AddDockhandDiscord).
/// </summary>
public sealed partial class DiscordRestClient : IGatewayBotInfoSource
{
    /// <summary>Sent on every REST call and on the gateway's WebSocket upgrade: Discord asks for a DiscordBot
    /// User-Agent, and Discord-compatible servers such as Spacebar close gateway connections without one.</summary>
    public const string UserAgent = "DiscordBot (https://github.com/dockhand/dockhand, 1.0)";
    /// <summary>How many times a 429 is retried before giving up.</summary>
    private const int MaxRateLimitRetries = 5;
    /// <summary>"Interaction has already been acknowledged."</summary>
    private const int AlreadyAcknowledgedCode = 40060;
    private const string CallbackTemplate = "POST /interactions/{interaction_id}/{interaction_token}/callback";
    /// <summary>Backoff for edge errors and dropped connections: short (250 ms, 500 ms, 1 s, 2 s), since a callback has 3 s in all.</summary>
    private static readonly RetryBackoff TransientBackoff = new(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
    private const int MaxTransientRetries = 4;
    /// <summary>How long to pause after an HTML 429 that gives no Retry-After.</summary>
    private static readonly TimeSpan DefaultEdgeBan = TimeSpan.FromSeconds(60);
    /// <summary>Discord's deadline for the first response to an interaction (Receiving and Responding).</summary>
    private static readonly TimeSpan CallbackWindow = TimeSpan.FromSeconds(3);

    private readonly HttpClient _http;
    private readonly DiscordOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _baseUrl;
    private readonly DiscordMetrics? _metrics;

    internal DiscordRestClient(HttpClient http, IOptions<DiscordOptions> options, TimeProvider time, ILogger<DiscordRestClient> logger, DiscordMetrics? metrics = null)
    {
        _metrics = metrics;
        _http = http;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _baseUrl = _options.ApiBaseUrl.AbsoluteUri.TrimEnd('/') + "/";
        RateLimiter = new DiscordRateLimiter(time, logger);
    }

    internal DiscordRateLimiter RateLimiter { get; }

    /// <summary>The 429's scope as a metric label: only the values Discord documents, so a header cannot add series.</summary>
    private static string RateLimitScope(RateLimitError error, RateLimitHeaders headers) =>
        error.Global ? "global" : headers.Scope?.ToLowerInvariant() switch
        {
            "global" => "global",
            "shared" => "shared",
            _ => "user",
        };

    /// <summary>The clock the client runs on (the host's TimeProvider).</summary>
    internal TimeProvider Time => _time;

    /// <summary>True when a bot token is configured, so bot-token routes such as channel messages can be used.</summary>
    public bool HasBotToken => !string.IsNullOrEmpty(_options.Token);

    /// <summary>Invalid requests (401/403/429) counted in the last 10 minutes.</summary>
    public int InvalidRequestCount => RateLimiter.InvalidRequestCount;

    /// <summary>POST /interactions/{id}/{token}/callback.</summary>
    public Task CreateInteractionResponseAsync(Snowflake interactionId, string interactionToken, InteractionResponse response, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"interactions/{interactionId}/{Escape(interactionToken)}/callback",
            Serialize(WireMapper.ToJson(response), DiscordJsonContext.Default.JsonInteractionResponse), authorize: false, cancellationToken);

    /// <summary>GET /webhooks/{app}/{token}/messages/@original.</summary>
    public async Task<SentMessage> GetOriginalResponseAsync(Snowflake applicationId, string interactionToken, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Get, $"webhooks/{applicationId}/{Escape(interactionToken)}/messages/@original",
            null, authorize: false, cancellationToken), DiscordJsonContext.Default.JsonMessage));

    /// <summary>PATCH /webhooks/{app}/{token}/messages/@original. Null parts of <paramref name="message"/> stay unchanged.</summary>
    public async Task<SentMessage> EditOriginalResponseAsync(Snowflake applicationId, string interactionToken, DiscordMessage message, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Patch, $"webhooks/{applicationId}/{Escape(interactionToken)}/messages/@original",
            Serialize(WireMapper.ToWebhook(message, create: false), DiscordJsonContext.Default.JsonWebhookMessage), authorize: false, cancellationToken),
            DiscordJsonContext.Default.JsonMessage));

    /// <summary>DELETE /webhooks/{app}/{token}/messages/@original.</summary>
    public Task DeleteOriginalResponseAsync(Snowflake applicationId, string interactionToken, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"webhooks/{applicationId}/{Escape(interactionToken)}/messages/@original", null, authorize: false, cancellationToken);

    /// <summary>POST /webhooks/{app}/{token}?wait=true: a follow-up message.</summary>
    public async Task<SentMessage> CreateFollowUpAsync(Snowflake applicationId, string interactionToken, DiscordMessage message, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Post, $"webhooks/{applicationId}/{Escape(interactionToken)}?wait=true",
            Serialize(WireMapper.ToWebhook(message, create: true), DiscordJsonContext.Default.JsonWebhookMessage), authorize: false, cancellationToken),
            DiscordJsonContext.Default.JsonMessage));

    /// <summary>POST /channels/{channel}/messages with the bot token (e.g. a result whose interaction token has expired).</summary>
    public async Task<SentMessage> CreateChannelMessageAsync(Snowflake channelId, DiscordMessage message, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Post, $"channels/{channelId}/messages",
            Serialize(WireMapper.ToWebhook(message with { Ephemeral = false }, create: true), DiscordJsonContext.Default.JsonWebhookMessage), authorize: true, cancellationToken),
            DiscordJsonContext.Default.JsonMessage));

    /// <summary>PUT /applications/{app}/commands (or /guilds/{guild}/commands when <paramref name="guildId"/> is set).</summary>
    public Task BulkOverwriteCommandsAsync(Snowflake applicationId, Snowflake? guildId, IReadOnlyList<SlashCommand> commands, CancellationToken cancellationToken = default)
    {
        var path = guildId is { } g ? $"applications/{applicationId}/guilds/{g}/commands" : $"applications/{applicationId}/commands";
        return SendAsync(HttpMethod.Put, path, CommandWire.Serialize(commands, global: guildId is null), authorize: true, cancellationToken);
    }

    /// <summary>
    /// GET /applications/{app}/commands (or /guilds/{guild}/commands when <paramref name="guildId"/> is set), as Discord
    /// returns them: raw JSON, so that fields this client does not model (localizations, another deployment's commands
    /// of other types) still count when <see cref="CommandRegistrar"/> compares. with_localizations=true asks for the full
    /// localization dictionaries: without it Discord gives only the requester's locale's text (Application Commands,
    /// "Retrieving localized commands").
    /// </summary>
    internal async Task<JsonArray> GetCommandsAsync(Snowflake applicationId, Snowflake? guildId, CancellationToken cancellationToken = default)
    {
        var path = guildId is { } g ? $"applications/{applicationId}/guilds/{g}/commands" : $"applications/{applicationId}/commands";
        var bytes = await SendAsync(HttpMethod.Get, path + "?with_localizations=true", null, authorize: true, cancellationToken);
        var route = RouteKey.From(HttpMethod.Get, path).Template;
        try
        {
            // The spec allows null for "no commands".
            return bytes.Length == 0 ? [] : JsonNode.Parse(bytes) switch
            {
                JsonArray commands => commands,
                null => [],
                _ => throw new DiscordRestException(HttpStatusCode.OK, 0, "the command list is not a JSON array", route),
            };
        }
        catch (JsonException)
        {
            throw new DiscordRestException(HttpStatusCode.OK, 0, "unreadable JSON response", route);
        }
    }

    /// <summary>GET /oauth2/applications/@me: the bot's application id and name.</summary>
    public async Task<DiscordApplication> GetCurrentApplicationAsync(CancellationToken cancellationToken = default)
    {
        var app = Read(await SendAsync(HttpMethod.Get, "oauth2/applications/@me", null, authorize: true, cancellationToken), DiscordJsonContext.Default.JsonApplication);
        return new DiscordApplication(app.Id ?? throw new DiscordRestException(HttpStatusCode.OK, 0, "application without id"), app.Name ?? "");
    }

    /// <summary>GET /users/{id}; null when the user does not exist (404).</summary>
    public async Task<DiscordUser?> GetUserAsync(Snowflake userId, CancellationToken cancellationToken = default)
    {
        try
        {
            return WireMapper.FromJson(Read(await SendAsync(HttpMethod.Get, $"users/{userId}", null, authorize: true, cancellationToken), DiscordJsonContext.Default.JsonUser));
        }
        catch (DiscordRestException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>GET /gateway/bot.</summary>
    public async Task<GatewayBotInfo> GetGatewayBotInfoAsync(CancellationToken cancellationToken = default)
    {
        var info = Read(await SendAsync(HttpMethod.Get, "gateway/bot", null, authorize: true, cancellationToken), DiscordJsonContext.Default.JsonGatewayBot);
        if (!Uri.TryCreate(info.Url, UriKind.Absolute, out var url))
            throw new DiscordRestException(HttpStatusCode.OK, 0, "GET /gateway/bot returned no valid url");
        var limit = info.SessionStartLimit;
        return new GatewayBotInfo(url, Math.Max(1, info.Shards), Math.Max(1, limit?.MaxConcurrency ?? 1), limit?.Remaining ?? 1,
            TimeSpan.FromMilliseconds(limit?.ResetAfter ?? 0));
    }

    private static string Escape(string token) => Uri.EscapeDataString(token);

    private static byte[] Serialize<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToUtf8Bytes(value, type);

    private static T Read<T>(byte[] bytes, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, type) ?? throw new DiscordRestException(HttpStatusCode.OK, 0, "empty JSON response");
        }
        catch (JsonException)
        {
            throw new DiscordRestException(HttpStatusCode.OK, 0, "unreadable JSON response");
        }
    }

    /// <summary>
    /// Sends one request through the rate limiter; returns the success body. Retries 429s after their retry_after, and
    /// edge errors (500, 502, 503, 504, 524) and dropped connections after a short backoff. An interaction callback is
    /// retried only inside its 3 s window, and a retried callback answered "already acknowledged" (40060) succeeded:
    /// the earlier attempt reached Discord.
    /// </summary>
    private async Task<byte[]> SendAsync(HttpMethod method, string path, byte[]? payload, bool authorize, CancellationToken cancellationToken)
    {
        var route = RouteKey.From(method, path.Split('?')[0]);
        if (authorize && string.IsNullOrEmpty(_options.Token))
            throw new InvalidOperationException(
                $"{route.Template} needs the bot token, but {DiscordConfiguration.TokenKey} is not set: set it to use this call (interactions over HTTP work without it).");
        var isCallback = route.Template == CallbackTemplate;
        var started = _time.GetTimestamp();
        // A callback is useless after its 3 s; any other call waits out rate limits for at most MaxRateLimitWait in all.
        var maxWait = isCallback ? CallbackWindow : _options.MaxRateLimitWait;
        var deadline = started + (long)(maxWait.TotalSeconds * _time.TimestampFrequency);
        var rateLimitRetries = 0;
        var transientRetries = 0;
        while (true)
        {
            DiscordRateLimiter.Lease lease;
            try
            {
                lease = await RateLimiter.AcquireAsync(route, deadline, cancellationToken);
            }
            catch (RateLimitWaitTooLongException e)
            {
                LogRateLimitGaveUp(_logger, route.Template, e.Wait.TotalSeconds, maxWait.TotalSeconds);
                throw new DiscordRestException(HttpStatusCode.TooManyRequests, 0, isCallback
                    ? $"rate limited for another {e.Wait.TotalSeconds:0.#} s, past the 3 s Discord gives an interaction's first response"
                    : $"rate limited for another {e.Wait.TotalSeconds:0.#} s, longer than the {maxWait.TotalSeconds:0} s a call may wait ({DiscordConfiguration.MaxRateLimitWaitKey}); try again later",
                    route.Template);
            }
            HttpResponseMessage response;
            try
            {
                using var request = new HttpRequestMessage(method, _baseUrl + path);
                request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
                // Interaction callbacks and webhook routes are authorised by the interaction token in the URL (the OpenAPI
                // spec lists no required security for them), so the bot token is sent only where a route needs it.
                if (authorize)
                    request.Headers.TryAddWithoutValidation("Authorization", "Bot " + _options.Token);
                if (payload is not null)
                {
                    request.Content = new ByteArrayContent(payload);
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                }
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            }
            catch (HttpRequestException e) when (!cancellationToken.IsCancellationRequested)
            {
                lease.Dispose();
                if (NextTransientDelay(transientRetries, isCallback, started) is not { } delay)
                {
                    LogTransportFailed(_logger, route.Template, transientRetries + 1, e.Message);
                    throw;
                }
                transientRetries++;
                LogConnectionRetry(_logger, route.Template, e.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, _time, cancellationToken);
                continue;
            }
            catch
            {
                lease.Dispose();
                throw;
            }

            using (lease)
            using (response)
            {
                var headers = RateLimitHeaders.From(response);
                var status = (int)response.StatusCode;
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                var error = response.IsSuccessStatusCode ? null : TryParseError(bytes);

                RateLimitError? rateLimit = null;
                if (status == 429 && error is null)
                {
                    // Not Discord's JSON: Cloudflare's IP ban for too many invalid requests. Retrying would only add
                    // invalid requests, so pause everything for Retry-After and tell the caller.
                    var ban = response.Headers.RetryAfter?.Delta ?? DefaultEdgeBan;
                    lease.Update(status, headers, null);
                    _metrics?.Request(route.Template, status);
                    _metrics?.RateLimited("edge");
                    RateLimiter.PauseForEdgeBan(ban);
                    throw new DiscordRestException(response.StatusCode, 0,
                        $"Discord's edge refused the request (a temporary ban for too many invalid requests); all REST calls pause for {ban.TotalSeconds:0} s",
                        route.Template);
                }
                if (status == 429 && error is not null)
                    rateLimit = new RateLimitError(TimeSpan.FromSeconds(Math.Clamp(error.RetryAfter ?? response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 1, 0, 3600)),
                        error.Global ?? false);
                lease.Update(status, headers, rateLimit);
                _metrics?.Request(route.Template, status);
                if (rateLimit is not null)
                    _metrics?.RateLimited(RateLimitScope(rateLimit, headers));

                if (status == 429 && rateLimitRetries < MaxRateLimitRetries)
                {
                    rateLimitRetries++;
                    continue; // the next AcquireAsync waits out the pause recorded above
                }
                if (IsTransient(status) && NextTransientDelay(transientRetries, isCallback, started) is { } delay)
                {
                    transientRetries++;
                    LogEdgeErrorRetry(_logger, route.Template, status, delay.TotalMilliseconds);
                    lease.Dispose();
                    await Task.Delay(delay, _time, cancellationToken);
                    continue;
                }
                if (isCallback && transientRetries > 0 && status == 400 && error?.Code == AlreadyAcknowledgedCode)
                {
                    LogCallbackAlreadyApplied(_logger, route.Template);
                    return [];
                }
                if (!response.IsSuccessStatusCode)
                {
                    // 50035 and friends name the offending fields in "errors"; without them the message says nothing.
                    var details = FlattenErrors(error?.Errors);
                    var message = (error?.Message ?? response.ReasonPhrase ?? "error") + (details.Length == 0 ? "" : " [" + details + "]");
                    if (details.Length == 0)
                        LogRequestFailed(_logger, route.Template, status, error?.Code ?? 0);
                    else
                        LogRequestRejectedFields(_logger, route.Template, status, error?.Code ?? 0, details);
                    throw new DiscordRestException(response.StatusCode, error?.Code ?? 0, message, route.Template)
                    {
                        BotTokenRejected = authorize && status == 401,
                    };
                }
                return bytes;
            }
        }
    }

    /// <summary>Statuses of Discord's edge that a retry can cure (Cloudflare's 524 is a timeout).</summary>
    private static bool IsTransient(int status) => status is 500 or 502 or 503 or 504 or 524;

    /// <summary>
    /// The wait before the next retry after an edge error or a dropped connection, or null to give up: after
    /// <see cref="MaxTransientRetries"/> retries, or, for a callback, when the retry would go out after the 3 s
    /// Discord gives the first response (counted from the first attempt, which is already later than Discord's start).
    /// </summary>
    private TimeSpan? NextTransientDelay(int retriesSoFar, bool isCallback, long started)
    {
        if (retriesSoFar >= MaxTransientRetries)
            return null;
        var delay = TransientBackoff.GetDelay(retriesSoFar + 1);
        if (isCallback && _time.GetElapsedTime(started) + delay >= CallbackWindow)
            return null;
        return delay;
    }

    /// <summary>
    /// Flattens Discord's nested "errors" object (Opcodes and Status Codes, "Error Messages") into
    /// "data.embeds.0.title: message; …", at most <see cref="MaxErrorDetails"/> characters.
    /// </summary>
    internal static string FlattenErrors(JsonElement? errors)
    {
        if (errors is not { ValueKind: JsonValueKind.Object } root)
            return "";
        var parts = new List<string>();
        Walk(root, "");
        var text = string.Join("; ", parts);
        return text.Length <= MaxErrorDetails ? text : text[..MaxErrorDetails] + "…";

        void Walk(JsonElement node, string path)
        {
            foreach (var property in node.EnumerateObject())
            {
                if (property.Name == "_errors" && property.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var e in property.Value.EnumerateArray())
                        if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                            parts.Add((path.Length == 0 ? "(body)" : path) + ": " + m.GetString());
                }
                else if (property.Value.ValueKind == JsonValueKind.Object)
                    Walk(property.Value, path.Length == 0 ? property.Name : path + "." + property.Name);
            }
        }
    }

    private const int MaxErrorDetails = 500;

    private static JsonDiscordError? TryParseError(byte[] bytes)
    {
        try
        {
            return bytes.Length == 0 ? null : JsonSerializer.Deserialize(bytes, DiscordJsonContext.Default.JsonDiscordError);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 3111, Level = LogLevel.Information, Message = "Discord REST {Route}: HTTP {Status} from Discord's edge; retrying in {DelayMs} ms.")]
    private static partial void LogEdgeErrorRetry(ILogger logger, string route, int status, double delayMs);

    [LoggerMessage(EventId = 3114, Level = LogLevel.Information, Message = "Discord REST {Route}: the connection failed ({Reason}); retrying in {DelayMs} ms.")]
    private static partial void LogConnectionRetry(ILogger logger, string route, string reason, double delayMs);

    [LoggerMessage(EventId = 3112, Level = LogLevel.Warning, Message = "Discord REST {Route} failed: the connection failed on attempt {Attempts} ({Reason}); giving up.")]
    private static partial void LogTransportFailed(ILogger logger, string route, int attempts, string reason);

    [LoggerMessage(EventId = 3113, Level = LogLevel.Information, Message = "Discord REST {Route}: the retry was answered 'already acknowledged' (40060), so the first attempt reached Discord; treated as success.")]
    private static partial void LogCallbackAlreadyApplied(ILogger logger, string route);

    [LoggerMessage(EventId = 3115, Level = LogLevel.Warning, Message = "Discord REST {Route}: rate limited for another {WaitSeconds} s, more than the {MaxSeconds} s this call may wait; giving up.")]
    private static partial void LogRateLimitGaveUp(ILogger logger, string route, double waitSeconds, double maxSeconds);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "Discord REST {Route} failed with HTTP {Status} (Discord code {Code}).")]
    private static partial void LogRequestFailed(ILogger logger, string route, int status, int code);

    [LoggerMessage(EventId = 3116, Level = LogLevel.Warning, Message = "Discord REST {Route} failed with HTTP {Status} (Discord code {Code}); Discord named these fields: {Details}.")]
    private static partial void LogRequestRejectedFields(ILogger logger, string route, int status, int code, string details);
}

/// <summary>The bot's application (GET /oauth2/applications/@me).</summary>
public sealed record DiscordApplication(Snowflake Id, string Name);
