using System.ComponentModel.DataAnnotations;

namespace Dockhand.Discord;

/// <summary>
/// Settings for the Discord client. Bound from configuration keys named as in DESIGN.md §2
/// (DISCORD_TOKEN, DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY, DISCORD_GUILD_ID, DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL).
/// </summary>
public sealed class DiscordOptions
{
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
    /// The longest one REST call waits out rate limits in all (DISCORD_MAX_RATE_LIMIT_WAIT, seconds). A call that would
    /// wait longer fails at once with a 429 <see cref="Rest.DiscordRestException"/> instead of blocking its caller.
    /// </summary>
    // 1 s to 1 h, checked where the setting is read (DiscordConfiguration), with the sentence users see.
    public TimeSpan MaxRateLimitWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>What <see cref="DiscordConfiguration.Read"/> found wrong, one sentence per key; reported at start-up.</summary>
    internal IReadOnlyList<string> ConfigurationProblems { get; set; } = [];
}

/// <summary>
/// Start-up check of <see cref="DiscordOptions"/>: the data annotations (source-generated, no reflection) and the
/// problems found when the keys were read, without reading the configuration a second time.
/// </summary>
[Microsoft.Extensions.Options.OptionsValidator]
internal sealed partial class DiscordOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<DiscordOptions>;

internal sealed class DiscordConfigurationProblems : Microsoft.Extensions.Options.IValidateOptions<DiscordOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, DiscordOptions options) =>
        options.ConfigurationProblems.Count == 0
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(options.ConfigurationProblems);
}
