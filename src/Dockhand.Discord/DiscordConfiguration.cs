using System.Globalization;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Discord;

/// <summary>
/// Reads <see cref="DiscordOptions"/> from the flat keys of DESIGN.md §2 and checks them. Each problem is one line
/// that names the key. The options are read once: the problems found stay on the options object
/// (<see cref="DiscordOptions.ConfigurationProblems"/>) for the start-up validator to report.
/// </summary>
public static class DiscordConfiguration
{
    public const string TokenKey = "DISCORD_TOKEN";
    public const string ApplicationIdKey = "DISCORD_APPLICATION_ID";
    public const string PublicKeyKey = "DISCORD_PUBLIC_KEY";
    public const string GuildIdKey = "DISCORD_GUILD_ID";
    public const string ApiBaseUrlKey = "DISCORD_API_BASE_URL";
    public const string GatewayUrlKey = "DISCORD_GATEWAY_URL";
    public const string IntentsKey = "DISCORD_INTENTS";
    public const string MaxRateLimitWaitKey = "DISCORD_MAX_RATE_LIMIT_WAIT";

    /// <summary>Fills <paramref name="options"/> from <paramref name="configuration"/>; returns the problems (empty when valid).</summary>
    public static IReadOnlyList<string> Read(IConfiguration configuration, DiscordOptions options)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        string? Get(string key) => configuration[key] is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        options.Token = Get(TokenKey);
        // Without a token the bot can still take interactions over HTTP (DISCORD_PUBLIC_KEY): the callback and webhook
        // routes are authorised by the interaction token in their URL. With neither there is no transport at all.
        if (options.Token is null && Get(PublicKeyKey) is null)
            problems.Add($"{TokenKey} is not set: put the bot token from the Discord developer portal in .env or the environment (or set {PublicKeyKey} to take interactions over HTTP only).");
        else if (options.Token is not null && options.Token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            problems.Add($"{TokenKey} is invalid: it must not contain spaces (give the token alone, without 'Bot ').");

        options.ApplicationId = Snowflake(ApplicationIdKey);
        options.GuildId = Snowflake(GuildIdKey);

        options.PublicKey = Get(PublicKeyKey);
        if (options.PublicKey is not null && InteractionSignatureVerifier.TryParsePublicKey(options.PublicKey) is null)
            problems.Add($"{PublicKeyKey} is invalid: it must be the application's Ed25519 public key as 64 hex characters.");

        if (Get(ApiBaseUrlKey) is { } api)
        {
            if (HttpUrl(api) is { } u)
                options.ApiBaseUrl = u;
            else
                problems.Add($"{ApiBaseUrlKey} is invalid: it must be an absolute http(s) URL such as https://discord.com/api/v10.");
        }
        if (Get(GatewayUrlKey) is { } gw)
        {
            if (Uri.TryCreate(gw, UriKind.Absolute, out var g) && g.Scheme is "ws" or "wss")
                options.GatewayUrl = g;
            else
                problems.Add($"{GatewayUrlKey} is invalid: it must be an absolute ws:// or wss:// URL.");
        }
        if (Get(IntentsKey) is { } intents)
        {
            if (int.TryParse(intents, NumberStyles.None, CultureInfo.InvariantCulture, out var i))
                options.Intents = i;
            else
                problems.Add($"{IntentsKey} is invalid: it must be a non-negative integer.");
        }
        if (Get(MaxRateLimitWaitKey) is { } wait)
        {
            if (int.TryParse(wait, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 1 and <= 3600)
                options.MaxRateLimitWait = TimeSpan.FromSeconds(seconds);
            else
                problems.Add($"{MaxRateLimitWaitKey} is invalid: it must be a whole number of seconds from 1 to 3600.");
        }
        options.ConfigurationProblems = problems;
        return problems;

        Snowflake? Snowflake(string key)
        {
            if (Get(key) is not { } s)
                return null;
            if (Discord.Snowflake.TryParse(s, out var id))
                return id;
            problems.Add($"{key} is invalid: it must be a Discord snowflake (digits only), got '{(s.Length > 24 ? s[..24] + "…" : s)}'.");
            return null;
        }
    }

    private static Uri? HttpUrl(string s) =>
        Uri.TryCreate(s, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u : null;
}
