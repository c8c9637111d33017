using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
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
    public const string UserAgent = "DiscordBot (https://github.com/dockhand/dockhand, 1.0)";
    /// <summary>How many times a 429 is retried before giving up.</summary>
    private const int MaxRateLimitRetries = 5;

    private readonly HttpClient _http;
    private readonly DiscordOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _baseUrl;

    internal DiscordRestClient(HttpClient http, IOptions<DiscordOptions> options, TimeProvider time, ILogger<DiscordRestClient> logger)
    {
        _http = http;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _baseUrl = _options.ApiBaseUrl.AbsoluteUri.TrimEnd('/') + "/";
        RateLimiter = new DiscordRateLimiter(time, logger);
    }

    internal DiscordRateLimiter RateLimiter { get; }

    /// <summary>Invalid requests (401/403/429) counted in the last 10 minutes.</summary>
    public int InvalidRequestCount => RateLimiter.InvalidRequestCount;

    /// <summary>POST /interactions/{id}/{token}/callback.</summary>
    public Task CreateInteractionResponseAsync(ulong interactionId, string interactionToken, InteractionResponse response, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"interactions/{interactionId}/{Escape(interactionToken)}/callback",
            Serialize(WireMapper.ToJson(response), DiscordJsonContext.Default.JsonInteractionResponse), authorize: false, cancellationToken);

    /// <summary>GET /webhooks/{app}/{token}/messages/@original.</summary>
    public async Task<SentMessage> GetOriginalResponseAsync(ulong applicationId, string interactionToken, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Get, $"webhooks/{applicationId}/{Escape(interactionToken)}/messages/@original",
            null, authorize: false, cancellationToken), DiscordJsonContext.Default.JsonMessage));

    /// <summary>PATCH /webhooks/{app}/{token}/messages/@original. Null parts of <paramref name="message"/> stay unchanged.</summary>
    public async Task<SentMessage> EditOriginalResponseAsync(ulong applicationId, string interactionToken, DiscordMessage message, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Patch, $"webhooks/{applicationId}/{Escape(interactionToken)}/messages/@original",
            Serialize(WireMapper.ToWebhook(message, create: false), DiscordJsonContext.Default.JsonWebhookMessage), authorize: false, cancellationToken),
            DiscordJsonContext.Default.JsonMessage));

    /// <summary>DELETE /webhooks/{app}/{token}/messages/@original.</summary>
    public Task DeleteOriginalResponseAsync(ulong applicationId, string interactionToken, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"webhooks/{applicationId}/{Escape(interactionToken)}/messages/@original", null, authorize: false, cancellationToken);

    /// <summary>POST /webhooks/{app}/{token}?wait=true: a follow-up message.</summary>
    public async Task<SentMessage> CreateFollowUpAsync(ulong applicationId, string interactionToken, DiscordMessage message, CancellationToken cancellationToken = default) =>
        WireMapper.FromJson(Read(await SendAsync(HttpMethod.Post, $"webhooks/{applicationId}/{Escape(interactionToken)}?wait=true",
            Serialize(WireMapper.ToWebhook(message, create: true), DiscordJsonContext.Default.JsonWebhookMessage), authorize: false, cancellationToken),
            DiscordJsonContext.Default.JsonMessage));

    /// <summary>PUT /applications/{app}/commands (or /guilds/{guild}/commands when <paramref name="guildId"/> is set).</summary>
    public Task BulkOverwriteCommandsAsync(ulong applicationId, ulong? guildId, IReadOnlyList<SlashCommand> commands, CancellationToken cancellationToken = default)
    {
        var path = guildId is { } g ? $"applications/{applicationId}/guilds/{g}/commands" : $"applications/{applicationId}/commands";
        return SendAsync(HttpMethod.Put, path, CommandWire.Serialize(commands), authorize: true, cancellationToken);
    }

    /// <summary>GET /oauth2/applications/@me: the bot's application id and name.</summary>
    public async Task<DiscordApplication> GetCurrentApplicationAsync(CancellationToken cancellationToken = default)
    {
        var app = Read(await SendAsync(HttpMethod.Get, "oauth2/applications/@me", null, authorize: true, cancellationToken), DiscordJsonContext.Default.JsonApplication);
        return new DiscordApplication(WireMapper.ParseSnowflake(app.Id) ?? throw new DiscordRestException(HttpStatusCode.OK, 0, "application without id"), app.Name ?? "");
    }

    /// <summary>GET /users/{id}; null when the user does not exist (404).</summary>
    public async Task<DiscordUser?> GetUserAsync(ulong userId, CancellationToken cancellationToken = default)
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

    /// <summary>Sends one request through the rate limiter, retrying 429s; returns the success body.</summary>
    private async Task<byte[]> SendAsync(HttpMethod method, string path, byte[]? payload, bool authorize, CancellationToken cancellationToken)
    {
        var route = RouteKey.From(method, path.Split('?')[0]);
        if (authorize && string.IsNullOrEmpty(_options.Token))
            throw new InvalidOperationException(
                $"{route.Template} needs the bot token, but {DiscordConfiguration.TokenKey} is not set: set it to use this call (interactions over HTTP work without it).");
        for (var attempt = 0; ; attempt++)
        {
            using var lease = await RateLimiter.AcquireAsync(route, cancellationToken);
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

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            var headers = RateLimitHeaders.From(response);
            var status = (int)response.StatusCode;
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            var error = response.IsSuccessStatusCode ? null : TryParseError(bytes);

            RateLimitError? rateLimit = null;
            if (status == 429)
            {
                var retryAfter = error?.RetryAfter ?? response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 1;
                rateLimit = new RateLimitError(TimeSpan.FromSeconds(Math.Clamp(retryAfter, 0, 3600)), error?.Global ?? false);
            }
            lease.Update(status, headers, rateLimit);

            if (status == 429 && attempt < MaxRateLimitRetries)
                continue; // the next AcquireAsync waits out the pause recorded above
            if (!response.IsSuccessStatusCode)
            {
                LogRequestFailed(_logger, route.Template, status, error?.Code ?? 0);
                throw new DiscordRestException(response.StatusCode, error?.Code ?? 0, error?.Message ?? response.ReasonPhrase ?? "error", route.Template)
                {
                    BotTokenRejected = authorize && status == 401,
                };
            }
            return bytes;
        }
    }

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

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "Discord REST {Route} failed with HTTP {Status} (Discord code {Code}).")]
    private static partial void LogRequestFailed(ILogger logger, string route, int status, int code);
}

/// <summary>The bot's application (GET /oauth2/applications/@me).</summary>
public sealed record DiscordApplication(ulong Id, string Name);
