using Microsoft.Extensions.Configuration;

namespace Dockhand.Discord;

/// <summary>
/// The flat keys of DESIGN.md §2 that <see cref="DiscordOptions"/> is bound from, and <see cref="Read"/>, which binds
/// and checks them without a service container (tests, doctor).
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

    /// <summary>Binds <paramref name="options"/> from <paramref name="configuration"/>; returns the problems (empty when valid), one line each naming the key.</summary>
    public static IReadOnlyList<string> Read(IConfiguration configuration, DiscordOptions options)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        configuration.Bind(options);
        return options.Problems();
    }
}
