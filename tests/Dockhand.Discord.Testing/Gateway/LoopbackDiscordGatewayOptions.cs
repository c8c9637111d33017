namespace Dockhand.Discord.Testing.Gateway;

/// <summary>Settings of a <see cref="LoopbackDiscordGateway"/>. Defaults follow Discord's documented behaviour.</summary>
public sealed class LoopbackDiscordGatewayOptions
{
    /// <summary>The only bot token Identify/Resume accept (others get close 4004).</summary>
    public string Token { get; init; } = "loopback-bot-token";

    public string ApplicationId { get; init; } = "1100000000000000001";

    public string BotUserId { get; init; } = "1100000000000000002";

    /// <summary>heartbeat_interval sent in Hello, in ms (Discord sends about 41250).</summary>
    public int HeartbeatIntervalMs { get; set; } = 41_250;

    /// <summary>Clock used for timestamps, the heartbeat watchdog, the send-rate window and identify spacing.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Privileged intents (GUILD_MEMBERS 1&lt;&lt;1, GUILD_PRESENCES 1&lt;&lt;8, MESSAGE_CONTENT 1&lt;&lt;15) the bot is allowed; others get 4014.</summary>
    public int AllowedPrivilegedIntents { get; init; }

    /// <summary>Close with 4002 when the upgrade carries no User-Agent (as Spacebar does).</summary>
    public bool RequireUserAgent { get; init; } = true;

    /// <summary>Close a connection that misses heartbeats (no heartbeat within interval × (1 + grace)).</summary>
    public bool EnforceHeartbeats { get; init; } = true;

    public double HeartbeatGraceFraction { get; init; } = 0.25;

    /// <summary>Client events allowed per connection per <see cref="SendWindow"/>; above it the server closes with 4008.</summary>
    public int SendLimit { get; init; } = 120;

    public TimeSpan SendWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Client payloads above this many bytes get close 4002.</summary>
    public int MaxPayloadBytes { get; init; } = 4096;

    /// <summary>max_concurrency: Identifies allowed per 5 s; a faster Identify gets op 9 (d:false).</summary>
    public int MaxConcurrency { get; init; } = 1;
}
