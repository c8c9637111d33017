using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord;

/// <summary>
/// Settings for the Discord client, bound from the flat keys of DESIGN.md §2 (<see cref="DiscordConfiguration"/> names
/// them): each key arrives through a string property (<c>…Setting</c>, named with <see cref="ConfigurationKeyNameAttribute"/>)
/// that parses it and keeps what was wrong, and the source-generated <see cref="DiscordOptionsValidator"/> reports every
/// problem at start-up (<c>ValidateOnStart</c>), one line each naming the key. The configuration is read once.
/// </summary>
public sealed class DiscordOptions : IValidatableObject
{
    // What was wrong with a key when it was bound, by key (reported in the order of Keys below).
    private readonly Dictionary<string, string> _problems = new(StringComparer.Ordinal);

    private static readonly string[] KeysInOrder =
    [
        DiscordConfiguration.TokenKey, DiscordConfiguration.ApplicationIdKey, DiscordConfiguration.GuildIdKey,
        DiscordConfiguration.PublicKeyKey, DiscordConfiguration.ApiBaseUrlKey, DiscordConfiguration.GatewayUrlKey,
        DiscordConfiguration.IntentsKey, DiscordConfiguration.MaxRateLimitWaitKey,
    ];

    /// <summary>
    /// Bot token. Turns on the gateway and authorises the bot's own REST calls (commands, users, gateway). Optional when
    /// <see cref="PublicKey"/> is set: interaction callbacks and webhook edits need only the interaction token. Never logged.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>Optional: READY or GET /oauth2/applications/@me give it when it is not set.</summary>
    public Snowflake? ApplicationId { get; set; }

    /// <summary>Hex Ed25519 public key of the application. Turns on POST /interactions.</summary>
    public string? PublicKey { get; set; }

    /// <summary>Optional: register commands to this guild only (instant) instead of globally.</summary>
    public Snowflake? GuildId { get; set; }

    [Required]
    public Uri ApiBaseUrl { get; set; } = new("https://discord.com/api/v10");

    /// <summary>Optional override of the URL GET /gateway/bot returns.</summary>
    public Uri? GatewayUrl { get; set; }

    /// <summary>Gateway intents. INTERACTION_CREATE is sent whatever the intents, so 0 is enough.</summary>
    [Range(0, int.MaxValue)]
    public int Intents { get; set; }

    /// <summary>
    /// The longest one REST call waits out rate limits in all (DISCORD_MAX_RATE_LIMIT_WAIT, seconds, 1 to 3600). A call
    /// that would wait longer fails at once with a 429 <see cref="Rest.DiscordRestException"/> instead of blocking its caller.
    /// </summary>
    public TimeSpan MaxRateLimitWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>DISCORD_TOKEN as given (trimmed; spaces only count as not set).</summary>
    [ConfigurationKeyName(DiscordConfiguration.TokenKey)]
    public string? TokenSetting { get => null; set => Token = Trimmed(value); }

    [ConfigurationKeyName(DiscordConfiguration.ApplicationIdKey)]
    public string? ApplicationIdSetting { get => null; set => ApplicationId = SnowflakeFrom(DiscordConfiguration.ApplicationIdKey, value); }

    [ConfigurationKeyName(DiscordConfiguration.GuildIdKey)]
    public string? GuildIdSetting { get => null; set => GuildId = SnowflakeFrom(DiscordConfiguration.GuildIdKey, value); }

    [ConfigurationKeyName(DiscordConfiguration.PublicKeyKey)]
    public string? PublicKeySetting
    {
        get => null;
        set
        {
            PublicKey = Trimmed(value);
            if (PublicKey is not null && InteractionSignatureVerifier.TryParsePublicKey(PublicKey) is null)
                _problems[DiscordConfiguration.PublicKeyKey] = $"{DiscordConfiguration.PublicKeyKey} is invalid: it must be the application's Ed25519 public key as 64 hex characters.";
        }
    }

    [ConfigurationKeyName(DiscordConfiguration.ApiBaseUrlKey)]
    public string? ApiBaseUrlSetting
    {
        get => null;
        set
        {
            if (Trimmed(value) is not { } text)
                return;
            if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
                ApiBaseUrl = url;
            else
                _problems[DiscordConfiguration.ApiBaseUrlKey] = $"{DiscordConfiguration.ApiBaseUrlKey} is invalid: it must be an absolute http(s) URL such as https://discord.com/api/v10.";
        }
    }

    [ConfigurationKeyName(DiscordConfiguration.GatewayUrlKey)]
    public string? GatewayUrlSetting
    {
        get => null;
        set
        {
            if (Trimmed(value) is not { } text)
                return;
            if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "ws" or "wss")
                GatewayUrl = url;
            else
                _problems[DiscordConfiguration.GatewayUrlKey] = $"{DiscordConfiguration.GatewayUrlKey} is invalid: it must be an absolute ws:// or wss:// URL.";
        }
    }

    [ConfigurationKeyName(DiscordConfiguration.IntentsKey)]
    public string? IntentsSetting
    {
        get => null;
        set
        {
            if (Trimmed(value) is not { } text)
                return;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var intents))
                Intents = intents;
            else
                _problems[DiscordConfiguration.IntentsKey] = $"{DiscordConfiguration.IntentsKey} is invalid: it must be a non-negative integer.";
        }
    }

    [ConfigurationKeyName(DiscordConfiguration.MaxRateLimitWaitKey)]
    public string? MaxRateLimitWaitSetting
    {
        get => null;
        set
        {
            if (Trimmed(value) is not { } text)
                return;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 1 and <= 3600)
                MaxRateLimitWait = TimeSpan.FromSeconds(seconds);
            else
                _problems[DiscordConfiguration.MaxRateLimitWaitKey] = $"{DiscordConfiguration.MaxRateLimitWaitKey} is invalid: it must be a whole number of seconds from 1 to 3600.";
        }
    }

    /// <summary>Every problem, one line each naming its key.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
        => Problems().Select(p => new ValidationResult(p));

    /// <summary>What was wrong when the keys were bound, and what they say together, in the order of the keys.</summary>
    internal List<string> Problems()
    {
        var problems = new List<string>();
        foreach (var key in KeysInOrder)
        {
            if (key == DiscordConfiguration.TokenKey)
            {
                // Without a token the bot can still take interactions over HTTP (DISCORD_PUBLIC_KEY): the callback and
                // webhook routes are authorised by the interaction token in their URL. With neither there is no transport.
                if (Token is null && PublicKey is null)
                    problems.Add($"{DiscordConfiguration.TokenKey} is not set: put the bot token from the Discord developer portal in .env or the environment (or set {DiscordConfiguration.PublicKeyKey} to take interactions over HTTP only).");
                else if (Token is not null && Token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                    problems.Add($"{DiscordConfiguration.TokenKey} is invalid: it must not contain spaces (give the token alone, without 'Bot ').");
            }
            else if (_problems.TryGetValue(key, out var problem))
            {
                problems.Add(problem);
            }
        }
        return problems;
    }

    private static string? Trimmed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private Snowflake? SnowflakeFrom(string key, string? value)
    {
        if (Trimmed(value) is not { } text)
            return null;
        if (Snowflake.TryParse(text, out var id))
            return id;
        _problems[key] = $"{key} is invalid: it must be a Discord snowflake (digits only), got '{(text.Length > 24 ? text[..24] + "…" : text)}'.";
        return null;
    }
}

/// <summary>
/// Start-up check of <see cref="DiscordOptions"/> (<c>ValidateOnStart</c>): the data annotations and
/// <see cref="DiscordOptions.Validate"/>, source-generated (no reflection), without reading the configuration again.
/// </summary>
[OptionsValidator]
internal sealed partial class DiscordOptionsValidator : IValidateOptions<DiscordOptions>;
