namespace Dockhand.Discord.Gateway;

/// <summary>Tuning knobs with Discord's values as defaults; tests swap in deterministic ones.</summary>
internal sealed class GatewayClientSettings
{
    /// <summary>Random source in [0,1) for heartbeat jitter, backoff jitter and the op 9 wait.</summary>
    public Func<double> Random { get; init; } = System.Random.Shared.NextDouble;

    public RetryBackoff? Backoff { get; init; }

    public int SendLimit { get; init; } = 120;

    /// <summary>Slots of the 120 kept for heartbeats, Identify and Resume.</summary>
    public int SendReservedForControl { get; init; } = 10;

    public TimeSpan SendWindow { get; init; } = TimeSpan.FromSeconds(60);

    public int MaxPayloadBytes { get; init; } = 4096;

    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After op 9 with d:false Discord asks for a random wait of 1–5 s before a new Identify.</summary>
    public TimeSpan InvalidSessionMinDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan InvalidSessionMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest inbound message accepted (Discord's READY and GUILD_CREATE can be large).</summary>
    public int MaxInboundBytes { get; init; } = 16 * 1024 * 1024;
}
