using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>A one-time link to a container's terminal. <see cref="Url"/> holds the only copy of the token.</summary>
public sealed record TerminalLink(Uri Url, DateTimeOffset ExpiresAt);

/// <summary>What <see cref="TerminalLinks.IssueForOwnerAsync"/> did. Closed hierarchy; every refusal carries one sentence saying what to do.</summary>
public abstract record TerminalLinkResult
{
    private TerminalLinkResult() { }

    public sealed record Issued(TerminalLink Link, ContainerRecord Container) : TerminalLinkResult;

    public sealed record NoContainer(OwnerId Owner) : TerminalLinkResult
    {
        public string Sentence => "There is no container to open a terminal in; create one first.";
    }

    /// <summary>The container exists but is not running (or is busy with another operation).</summary>
    public sealed record NotRunning(string Sentence) : TerminalLinkResult;

    /// <summary>
    /// <paramref name="Limit"/> links were issued for this owner in the last minute (<c>TERMINAL_LINKS_PER_MINUTE</c>);
    /// the next one can be had after <paramref name="RetryAfter"/>.
    /// </summary>
    public sealed record RateLimited(int Limit, TimeSpan RetryAfter) : TerminalLinkResult
    {
        /// <summary>Whole seconds to wait, at least 1.</summary>
        public int RetryAfterSeconds => Math.Max(1, (int)Math.Ceiling(RetryAfter.TotalSeconds));

        public string Sentence => $"You have had {Limit} terminal links in the last minute, the most allowed; try again in {RetryAfterSeconds} seconds.";
    }

    /// <summary><paramref name="Detail"/> is the engine's own words, for operators only (never shown in Discord).</summary>
    public sealed record EngineUnavailable(string Sentence, string? Detail) : TerminalLinkResult;
}

/// <summary>What checking a token at <c>GET /terminal/{id}?token=</c> found. Closed hierarchy.</summary>
internal abstract record TokenCheck
{
    private TokenCheck() { }

    /// <summary>The token is valid for this container (not yet consumed when returned by <see cref="TerminalLinks.CheckAsync"/>).</summary>
    public sealed record Valid(OwnerId Owner, string ContainerId, DateTimeOffset ExpiresAt) : TokenCheck;

    public sealed record Unknown : TokenCheck;

    public sealed record Used : TokenCheck;

    public sealed record Expired : TokenCheck;

    public sealed record OtherContainer : TokenCheck;
}

/// <summary>Issues and consumes one-time terminal tokens (256-bit, SHA-256 at rest, single-use, expiring, owner-bound).</summary>
public sealed class TerminalLinks
{
    private const int TokenBytes = 32;
    private static readonly TimeSpan RateWindow = TimeSpan.FromMinutes(1);
    private readonly DockhandDatabase _database;
    private readonly TerminalOptions _options;
    private readonly TimeProvider _time;
    private readonly ContainerService? _containers;
    private readonly ContainerStore? _store;
    private readonly ILogger _logger;

    /// <param name="containers">Needed only by <see cref="IssueForOwnerAsync"/> (AddDockhandContainers registers it); the
    /// token store alone (<see cref="IssueAsync"/>, the endpoints) works without the container service.</param>
    /// <param name="store">Where <see cref="IssueForOwnerAsync"/> writes its audit row.</param>
    public TerminalLinks(DockhandDatabase database, IOptions<TerminalOptions> options, TimeProvider time,
        ContainerService? containers = null, ContainerStore? store = null, ILogger<TerminalLinks>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _database = database;
        _options = options.Value;
        _time = time;
        _containers = containers;
        _store = store;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>
    /// The one way to hand someone a terminal link (the bot's /terminal and <c>dockhand terminal</c> both use it): looks
    /// up <paramref name="owner"/>'s container, requires it to be running, issues the link, logs it (never the token or
    /// URL) and appends a <c>terminal-link</c> audit row for <paramref name="actor"/>.
    /// </summary>
    public async Task<TerminalLinkResult> IssueForOwnerAsync(OwnerId owner, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var containers = _containers ?? throw new InvalidOperationException("IssueForOwnerAsync needs the containers module's ContainerService (AddDockhandContainers).");
        TerminalLinkResult result;
        ContainerRecord? record = null;
        // Checked first so a flood costs one SELECT, not an engine call; the insert below re-checks atomically.
        var wait = await RetryAfterAsync(owner, cancellationToken);
        switch (wait is null ? await containers.StatusAsync(owner, cancellationToken) : null)
        {
            case null:
                result = new TerminalLinkResult.RateLimited(_options.LinksPerMinute, wait!.Value);
                break;
            case StatusResult.Found { Status.State: LiveState.Running } found:
                record = found.Status.Record;
                if (await TryIssueWithinLimitAsync(owner, record.ContainerId, cancellationToken) is { } link)
                {
                    Log.LinkIssued(_logger, owner.ToString(), record.ContainerId, link.ExpiresAt);
                    result = new TerminalLinkResult.Issued(link, record);
                }
                else
                {
                    result = new TerminalLinkResult.RateLimited(_options.LinksPerMinute, await RetryAfterAsync(owner, cancellationToken) ?? TimeSpan.FromSeconds(1));
                }
                break;
            case StatusResult.Found { Status.State: LiveState.Missing } found:
                record = found.Status.Record;
                result = new TerminalLinkResult.NotRunning(new Refusals.ContainerMissing(record).Message);
                break;
            case StatusResult.Found found:
                record = found.Status.Record;
                result = new TerminalLinkResult.NotRunning(
                    $"The container '{record.Name}' is {found.Status.State.ToString().ToLowerInvariant()}, not running; start it, then ask for a new link.");
                break;
            case StatusResult.Refused { Reason: Refusals.NoContainer }:
                result = new TerminalLinkResult.NoContainer(owner);
                break;
            case StatusResult.Refused { Reason: Refusals.EngineUnavailable or Refusals.EngineRefused } refused:
                result = new TerminalLinkResult.EngineUnavailable(refused.Reason.Message, refused.Reason.Detail);
                break;
            case StatusResult.Refused refused:
                result = new TerminalLinkResult.NotRunning(refused.Reason.Message);
                break;
            default:
                throw new InvalidOperationException("Unknown status result.");
        }

        if (result is TerminalLinkResult.RateLimited)
            Log.LinkRateLimited(_logger, owner.ToString(), _options.LinksPerMinute);
        else if (result is not TerminalLinkResult.Issued)
            Log.LinkRefused(_logger, record?.ContainerId ?? "-", result.GetType().Name);
        if (_store is not null)
        {
            var (outcome, detail) = result switch
            {
                TerminalLinkResult.Issued issued => ("issued", $"expires {Format(issued.Link.ExpiresAt)}"),
                TerminalLinkResult.NoContainer => ("refused", "no container"),
                TerminalLinkResult.RateLimited limited => ("refused", $"rate limited: {limited.Limit} links in the last minute"),
                TerminalLinkResult.NotRunning notRunning => ("refused", notRunning.Sentence),
                TerminalLinkResult.EngineUnavailable engine => ("refused", engine.Detail is null ? engine.Sentence : $"{engine.Sentence} [engine: {engine.Detail}]"),
                _ => ("refused", null),
            };
            await _store.AppendAuditAsync(actor, "terminal-link", owner, record?.Name, record?.ContainerId, outcome, detail, CancellationToken.None);
        }
        return result;
    }

    /// <summary>
    /// Issues a link for <paramref name="containerId"/> (the id the caller looked up for <paramref name="owner"/>).
    /// The token is returned only inside the URL; the database keeps its SHA-256. Not rate-limited: the per-owner limit
    /// belongs to <see cref="IssueForOwnerAsync"/>, the way links reach people.
    /// </summary>
    public async Task<TerminalLink> IssueAsync(OwnerId owner, string containerId, CancellationToken cancellationToken = default)
        => await InsertAsync(owner, containerId, limited: false, cancellationToken)
            ?? throw new InvalidOperationException("An unlimited insert cannot be refused.");

    /// <summary>Issues a link unless the owner already had <see cref="TerminalOptions.LinksPerMinute"/> in the last minute (then null).</summary>
    internal Task<TerminalLink?> TryIssueWithinLimitAsync(OwnerId owner, string containerId, CancellationToken cancellationToken = default)
        => InsertAsync(owner, containerId, limited: true, cancellationToken);

    /// <summary>
    /// Writes the token row. With <paramref name="limited"/>, one guarded statement: the row is inserted only while fewer
    /// than <see cref="TerminalOptions.LinksPerMinute"/> links were created for the owner in the last minute, inside a
    /// write transaction (<see cref="DockhandDatabase.BeginWriteAsync"/>), so two simultaneous requests cannot both slip
    /// under the limit, on either database. Null when refused.
    /// </summary>
    private async Task<TerminalLink?> InsertAsync(OwnerId owner, string containerId, bool limited, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerId);
        if (!TerminalEndpoints.IsValidContainerId(containerId))
            throw new ArgumentException("A container id is 1-128 characters of letters, digits, '_', '.' and '-'.", nameof(containerId));

        Span<byte> raw = stackalloc byte[TokenBytes];
        RandomNumberGenerator.Fill(raw);
        var token = Base64Url.EncodeToString(raw);
        var now = _time.GetUtcNow();
        var expiresAt = now + _options.TokenTimeToLive;

        await using var connection = await _database.OpenAsync(cancellationToken);
        // Writers of one owner's links run one at a time in every process (SQLite: one writer per file; PostgreSQL: an
        // advisory lock per owner), so two simultaneous requests cannot both count the window below the limit.
        await using var transaction = await _database.BeginWriteAsync(connection, "terminal_links:" + owner.ToString(), cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO terminal_links (token_hash, owner_id, container_id, created_at, expires_at, used_at)
            SELECT @hash, @owner, @container, @created, @expires, NULL
            WHERE @limit < 0 OR (SELECT COUNT(*) FROM terminal_links WHERE owner_id = @owner AND created_at > @since) < @limit
            """;
        command.AddParameter("@hash", Hash(token));
        command.AddParameter("@owner", owner.ToString());
        command.AddParameter("@container", containerId);
        command.AddParameter("@created", Format(now));
        command.AddParameter("@expires", Format(expiresAt));
        command.AddParameter("@since", Format(now - RateWindow));
        command.AddParameter("@limit", limited ? _options.LinksPerMinute : -1);
        var inserted = await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (inserted == 0)
            return null;

        var baseUrl = _options.ServiceUrl.AbsoluteUri.TrimEnd('/');
        var url = new Uri($"{baseUrl}/terminal/{Uri.EscapeDataString(containerId)}?token={token}");
        return new TerminalLink(url, expiresAt);
    }

    /// <summary>How long until <paramref name="owner"/> may have another link; null when under the limit now.</summary>
    internal async Task<TimeSpan?> RetryAfterAsync(OwnerId owner, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // The limit-th newest link in the window is the one that must age out before another fits.
        command.CommandText = """
            SELECT created_at FROM terminal_links WHERE owner_id = @owner AND created_at > @since
            ORDER BY created_at DESC LIMIT 1 OFFSET @offset
            """;
        command.AddParameter("@owner", owner.ToString());
        command.AddParameter("@since", Format(now - RateWindow));
        command.AddParameter("@offset", _options.LinksPerMinute - 1);
        if (await command.ExecuteScalarAsync(cancellationToken) is not string createdAt)
            return null;
        var wait = Parse(createdAt) + RateWindow - now;
        return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
    }

    /// <summary>Classifies a token without consuming it (no engine call is made for garbage before this).</summary>
    internal async Task<TokenCheck> CheckAsync(string? token, string containerId, CancellationToken cancellationToken = default)
    {
        if (!IsWellFormed(token))
            return new TokenCheck.Unknown();

        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT owner_id, container_id, expires_at, used_at FROM terminal_links WHERE token_hash = @hash";
        command.AddParameter("@hash", Hash(token));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return new TokenCheck.Unknown();

        var ownerText = reader.GetString(0);
        var boundContainer = reader.GetString(1);
        var expiresAt = Parse(reader.GetString(2));
        var used = !await reader.IsDBNullAsync(3, cancellationToken);
        if (!string.Equals(boundContainer, containerId, StringComparison.Ordinal))
            return new TokenCheck.OtherContainer();
        if (used)
            return new TokenCheck.Used();
        if (expiresAt <= _time.GetUtcNow())
            return new TokenCheck.Expired();
        if (!OwnerId.TryParse(ownerText, out var owner))
            return new TokenCheck.Unknown();
        return new TokenCheck.Valid(owner, boundContainer, expiresAt);
    }

    /// <summary>
    /// Consumes the token atomically: one UPDATE guarded by <c>used_at IS NULL AND expires_at &gt; now</c>, so of two
    /// simultaneous uses exactly one wins. A loser gets the reason from <see cref="CheckAsync"/>.
    /// </summary>
    internal async Task<TokenCheck> ConsumeAsync(string? token, string containerId, CancellationToken cancellationToken = default)
    {
        if (!IsWellFormed(token))
            return new TokenCheck.Unknown();

        var now = _time.GetUtcNow();
        await using (var connection = await _database.OpenAsync(cancellationToken))
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                UPDATE terminal_links SET used_at = @now
                WHERE token_hash = @hash AND container_id = @container AND used_at IS NULL AND expires_at > @now
                RETURNING owner_id, expires_at
                """;
            command.AddParameter("@now", Format(now));
            command.AddParameter("@hash", Hash(token));
            command.AddParameter("@container", containerId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken) && OwnerId.TryParse(reader.GetString(0), out var owner))
                return new TokenCheck.Valid(owner, containerId, Parse(reader.GetString(1)));
        }
        var reason = await CheckAsync(token, containerId, cancellationToken);
        // The row was consumed between our UPDATE and this read, or expired at the very instant: either way not ours.
        return reason is TokenCheck.Valid ? new TokenCheck.Used() : reason;
    }

    /// <summary>Deletes links that expired more than <see cref="TerminalOptions.ExpiredLinkRetention"/> ago. Returns how many rows went.</summary>
    internal async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM terminal_links WHERE expires_at <= @now";
        command.AddParameter("@now", Format(_time.GetUtcNow() - _options.ExpiredLinkRetention));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A token is 43 base64url characters (256 bits). Anything else is unknown without touching the database.</summary>
    internal static bool IsWellFormed([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? token)
        => token is { Length: 43 } && Base64Url.IsValid(token, out var decoded) && decoded == TokenBytes;

    internal static string Hash(string token)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

    // One fixed-width UTC format, so text comparison in SQL orders like time.
    internal static string Format(DateTimeOffset value)
        => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    internal static DateTimeOffset Parse(string value)
        => DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
