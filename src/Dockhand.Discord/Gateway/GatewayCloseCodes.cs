namespace Dockhand.Discord.Gateway;

/// <summary>What the client does after the gateway closes the connection.</summary>
internal enum GatewayCloseAction
{
    /// <summary>Reconnect to resume_gateway_url and send Resume (op 6).</summary>
    Resume,

    /// <summary>Forget the session, reconnect and Identify (op 2) again.</summary>
    NewSession,

    /// <summary>Stop: reconnecting cannot help until an operator changes something.</summary>
    Fatal,
}

/// <summary>Discord's gateway close-code table (opcodes-and-status-codes.mdx), sorted into resume / new session / fatal.</summary>
internal static class GatewayCloseCodes
{
    public static GatewayCloseAction Classify(int? closeCode) => closeCode switch
    {
        4004 or 4010 or 4011 or 4012 or 4013 or 4014 => GatewayCloseAction.Fatal,
        4007 or 4009 => GatewayCloseAction.NewSession,
        _ => GatewayCloseAction.Resume,
    };

    public static string Describe(int? closeCode) => closeCode switch
    {
        null => "connection dropped without a close frame",
        1000 => "normal closure",
        1001 => "going away",
        4000 => "unknown error",
        4001 => "unknown opcode",
        4002 => "decode error",
        4003 => "not authenticated",
        4004 => "authentication failed",
        4005 => "already authenticated",
        4007 => "invalid seq",
        4008 => "rate limited",
        4009 => "session timed out",
        4010 => "invalid shard",
        4011 => "sharding required",
        4012 => "invalid API version",
        4013 => "invalid intent(s)",
        4014 => "disallowed intent(s)",
        _ => "unrecognised close code",
    };

    /// <summary>What to do about an invalid bot token, whether the gateway (4004) or a REST route (401) said so.</summary>
    public const string InvalidTokenAdvice = "the bot token is invalid. Check DISCORD_TOKEN (reset it in the Developer Portal if needed).";

    /// <summary>The operator-facing sentence for a 401 on a bot-token REST route: the same advice as close code 4004.</summary>
    public static string TokenRejectedMessage(string route) => $"Discord answered 401 to {route} (authentication failed): " + InvalidTokenAdvice;

    /// <summary>The operator-facing sentence for a fatal code: the cause and what to do.</summary>
    public static string FatalMessage(int closeCode) => closeCode switch
    {
        4004 => "Discord closed the gateway with 4004 (authentication failed): " + InvalidTokenAdvice,
        4010 => "Discord closed the gateway with 4010 (invalid shard): the shard sent in Identify is invalid.",
        4011 => "Discord closed the gateway with 4011 (sharding required): the bot is in too many guilds for one connection; sharding is required.",
        4012 => "Discord closed the gateway with 4012 (invalid API version): the gateway does not accept API v10; check DISCORD_GATEWAY_URL.",
        4013 => "Discord closed the gateway with 4013 (invalid intents): the configured intents value is not a valid bit set; check DiscordOptions.Intents.",
        4014 => "Discord closed the gateway with 4014 (disallowed intents): the bot asked for privileged intents that are not enabled for it in the Developer Portal; enable them or remove them from DiscordOptions.Intents.",
        _ => $"Discord closed the gateway with {closeCode} ({Describe(closeCode)}).",
    };
}
