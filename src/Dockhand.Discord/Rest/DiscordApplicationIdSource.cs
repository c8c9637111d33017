using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Rest;

/// <summary>
/// The application id: DISCORD_APPLICATION_ID when set, else what READY told the gateway bridge, else
/// GET /oauth2/applications/@me (asked once).
/// </summary>
public sealed class DiscordApplicationIdSource(DiscordRestClient rest, IOptions<DiscordOptions> options)
{
    private ulong _known = options.Value.ApplicationId?.Value ?? 0;

    /// <summary>The id if already known, without a REST call.</summary>
    public Snowflake? Known => Volatile.Read(ref _known) is var id && id != 0 ? new Snowflake(id) : null;

    /// <summary>Called by the gateway bridge on READY (and by the HTTP path, which sees application_id).</summary>
    public void Remember(Snowflake applicationId)
    {
        Interlocked.CompareExchange(ref _known, applicationId.Value, 0);
    }

    public async Task<Snowflake> GetAsync(CancellationToken cancellationToken = default)
    {
        if (Known is { } id)
            return id;
        var app = await rest.GetCurrentApplicationAsync(cancellationToken);
        Remember(app.Id);
        return app.Id;
    }
}
