using System.Diagnostics.Metrics;
using Dockhand.Discord.Interactions;

namespace Dockhand.Discord;

/// <summary>
/// The Discord client's measurements (meter <see cref="MeterName"/>), made through the host's <see cref="IMeterFactory"/>.
/// Labels carry route templates and kinds only: never an id, a token or a user's input.
/// </summary>
public sealed class DiscordMetrics
{
    public const string MeterName = "Dockhand.Discord";

    private readonly Counter<long> _interactions;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _reconnects;

    public DiscordMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
#pragma warning disable CA2000 // The meter factory owns the meters it creates and disposes them with the container.
        var meter = meterFactory.Create(MeterName);
#pragma warning restore CA2000
        _interactions = meter.CreateCounter<long>("dockhand.interactions", "{interaction}",
            "Interactions handled, by transport (gateway, http), kind (command, component, autocomplete, modal) and outcome (answered, fallback, failed).");
        _requests = meter.CreateCounter<long>("dockhand.discord.requests", "{request}",
            "Discord REST responses, by the rate limiter's route template (\"POST /channels/{channel_id}/messages\") and HTTP status.");
        _rateLimited = meter.CreateCounter<long>("dockhand.discord.rate_limited", "{response}",
            "429 responses from Discord, by scope: user, global, shared (X-RateLimit-Scope), or edge (the IP ban, not Discord's JSON).");
        _reconnects = meter.CreateCounter<long>("dockhand.gateway.reconnects", "{reconnect}",
            "Gateway reconnects after a connection ended, by kind: resume (same session) or identify (new session).");
    }

    internal void Interaction(string transport, InteractionType type, string outcome) =>
        _interactions.Add(1,
            new KeyValuePair<string, object?>("transport", transport),
            new KeyValuePair<string, object?>("kind", Kind(type)),
            new KeyValuePair<string, object?>("outcome", outcome));

    internal void Request(string routeTemplate, int status) =>
        _requests.Add(1, new KeyValuePair<string, object?>("route", routeTemplate), new KeyValuePair<string, object?>("status", StatusText(status)));

    internal void RateLimited(string scope) => _rateLimited.Add(1, new KeyValuePair<string, object?>("scope", scope));

    internal void Reconnect(string kind) => _reconnects.Add(1, new KeyValuePair<string, object?>("kind", kind));

    private static string Kind(InteractionType type) => type switch
    {
        InteractionType.ApplicationCommand => "command",
        InteractionType.MessageComponent => "component",
        InteractionType.Autocomplete => "autocomplete",
        InteractionType.ModalSubmit => "modal",
        InteractionType.Ping => "ping",
        _ => "other",
    };

    // Made once: statuses are few, and formatting one per request would be garbage on every call.
    private static readonly string[] StatusTexts = Enumerable.Range(0, 600).Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private static string StatusText(int status) => status is >= 0 and < 600 ? StatusTexts[status] : "other";
}
