using System.Data.Common;
using System.Globalization;
using Dockhand.Containers.Storage;
using Dockhand.Discord;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.Interactions;

namespace Dockhand.ScaleOut;

/// <summary>
/// What two Dockhand processes on one PostgreSQL database share to hand the Discord gateway over: whose turn it is
/// (the container module's <see cref="InstanceLeadership"/>), the session to resume, and the interactions already
/// taken. The Discord module knows only its three interfaces; this is where they meet the database.
/// </summary>
internal static class GatewayHandover
{
    /// <summary>The tables gateway_session and interaction_claims, in both dialects (Migrations/ here).</summary>
    public static SchemaMigrations Migrations { get; } = new("gateway", typeof(GatewayHandover).Assembly);

    /// <summary>How long a claim is kept: an interaction token's lifetime, after which Discord would refuse an answer anyway.</summary>
    public static readonly TimeSpan ClaimLifetime = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Registers the three: the gateway is held in this process's term as leader, resumes the session the last holder
    /// saved, and claims each interaction in the database before handling it.
    /// </summary>
    public static IServiceCollection AddDockhandGatewayHandover(this IServiceCollection services)
    {
        services.AddSingleton(Migrations);
        services.AddSingleton<IGatewayLeadership, LeaderGatewayTurns>();
        services.AddSingleton<IGatewaySessionStore, StoreGatewaySessions>();
        services.AddSingleton<IInteractionClaims, StoreInteractionClaims>();
        return services;
    }

    internal static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}

/// <summary>The gateway may be held during this process's term as leader.</summary>
internal sealed class LeaderGatewayTurns(InstanceLeadership leadership) : IGatewayLeadership
{
    public Task<CancellationToken> WaitForTurnAsync(CancellationToken cancellationToken = default) => leadership.WaitForTermAsync(cancellationToken);
}

/// <summary>The gateway session checkpoint in the shared database (one row).</summary>
internal sealed class StoreGatewaySessions(DockhandDatabase database, TimeProvider time) : IGatewaySessionStore
{
    public async Task<GatewaySessionCheckpoint?> LoadAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT session_id, resume_url, sequence FROM gateway_session WHERE singleton = 1";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        var resumeUrl = reader.IsDBNull(1) ? null : Uri.TryCreate(reader.GetString(1), UriKind.Absolute, out var url) ? url : null;
        return new GatewaySessionCheckpoint(reader.GetString(0), resumeUrl, reader.GetInt64(2));
    }

    public async Task SaveAsync(GatewaySessionCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO gateway_session (singleton, session_id, resume_url, sequence, saved_at) VALUES (1, @session, @url, @sequence, @now)
            ON CONFLICT (singleton) DO UPDATE SET session_id = excluded.session_id, resume_url = excluded.resume_url,
                                                  sequence = excluded.sequence, saved_at = excluded.saved_at
            """;
        command.AddParameter("@session", checkpoint.SessionId)
            .AddParameter("@url", checkpoint.ResumeUrl?.AbsoluteUri)
            .AddParameter("@sequence", checkpoint.Sequence)
            .AddParameter("@now", GatewayHandover.Format(time.GetUtcNow()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>
/// interaction_claims: one row per interaction taken over the gateway, naming the process that took it (a random id
/// per process) and, once Discord accepted its initial response, when. A replay is handled again only when the claim
/// is another process's and was never answered: that process died between taking it and answering.
/// </summary>
internal sealed partial class StoreInteractionClaims(DockhandDatabase database, TimeProvider time, ILogger<StoreInteractionClaims> logger) : IInteractionClaims
{
    private readonly string _process = Guid.NewGuid().ToString("N");
    private long _nextSweep;

    public async Task<bool> TryClaimAsync(Snowflake interactionId, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        await SweepAsync(connection, now, cancellationToken);
        await using var command = connection.CreateCommand();
        // One statement, so two processes racing for the same id cannot both win.
        command.CommandText = """
            INSERT INTO interaction_claims (interaction_id, claimed_by, claimed_at) VALUES (@id, @process, @now)
            ON CONFLICT (interaction_id) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at
            WHERE interaction_claims.answered_at IS NULL AND interaction_claims.claimed_by <> excluded.claimed_by
            RETURNING interaction_id
            """;
        command.AddParameter("@id", interactionId.ToString())
            .AddParameter("@process", _process)
            .AddParameter("@now", GatewayHandover.Format(now));
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task MarkAnsweredAsync(Snowflake interactionId, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE interaction_claims SET answered_at = @now WHERE interaction_id = @id";
            command.AddParameter("@id", interactionId.ToString()).AddParameter("@now", GatewayHandover.Format(time.GetUtcNow()));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException e)
        {
            // Discord took the answer; only a replay after a takeover would try again, and Discord refuses a second answer.
            LogMarkFailed(logger, interactionId.Value, e.Message);
        }
    }

    /// <summary>At most once a minute: forgets claims older than an interaction token's life.</summary>
    private async Task SweepAsync(DbConnection connection, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var due = Interlocked.Read(ref _nextSweep);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweep, now.UtcTicks + TimeSpan.TicksPerMinute, due) != due)
            return;
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM interaction_claims WHERE claimed_at < @before";
        command.AddParameter("@before", GatewayHandover.Format(now - GatewayHandover.ClaimLifetime));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(EventId = 4090, Level = LogLevel.Warning, Message = "Could not record that interaction {InteractionId} was answered ({Reason})")]
    private static partial void LogMarkFailed(ILogger logger, ulong interactionId, string reason);
}
