using System.Globalization;
using Dockhand.Containers.Storage;
using System.Data.Common;

namespace Dockhand.Containers;

/// <summary>Row states (migration 003). Seed rows read as <see cref="Ready"/>.</summary>
internal static class RowState
{
    public const string Ready = "ready";
    public const string Creating = "creating";
    public const string Destroying = "destroying";
}

/// <summary>A containers row with Dockhand's bookkeeping columns.</summary>
internal sealed record StoredRow(OwnerId Owner, string Name, string ContainerId, string Image, DateTimeOffset CreatedAt, string State, string? OperationId, string? OperationProcess)
{
    public ContainerRecord ToRecord() => new(Owner, Name, ContainerId, Image, CreatedAt);
}

internal abstract record IntentOutcome
{
    /// <summary>The row is written; <paramref name="CreatedAt"/> is its created_at as stored.</summary>
    public sealed record Inserted(DateTimeOffset CreatedAt) : IntentOutcome;
    public sealed record OwnerBusy(StoredRow Existing) : IntentOutcome;
    public sealed record NameTaken : IntentOutcome;
}

/// <summary>One audit_log row: who did what, when, and how it ended.</summary>
public sealed record AuditEntry(DateTimeOffset At, string Actor, string Action, string? OwnerId, string? ContainerName, string? ContainerId, string Outcome, string? Detail);

/// <summary>What a database check found, for <c>GET /health</c> and <c>dockhand doctor</c>.</summary>
public sealed record DatabaseHealth(bool Ok, string Path, int? SchemaVersion, string? Error);

/// <summary>
/// Container records and the audit log in the shared database (<see cref="DockhandDatabase"/>: SQLite or PostgreSQL).
/// The <c>containers</c> table keeps the seed's columns; Dockhand adds state and operation columns (migration 003).
/// </summary>
public sealed class ContainerStore : IDisposable
{
    /// <summary>container_id of an intent row before the engine has given an id (the column is NOT NULL UNIQUE).</summary>
    internal const string PendingIdPrefix = "pending:";

    private readonly DockhandDatabase _database;
    private readonly TimeProvider _time;
    private readonly IOperationLease _lease;
    private readonly IReadOnlyList<SchemaMigrations> _modules;
    private readonly Lock _migrationGate = new();
    private Task? _migration;
    private string? _instanceId;
    // Operations of this process given up after their clean-up could not reach the database (GiveUp).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _givenUp = new(StringComparer.Ordinal);

    /// <param name="modules">The other modules' migrations (each module registers its <see cref="SchemaMigrations"/> in DI);
    /// <see cref="MigrateAsync"/> applies them after the container module's own.</param>
    public ContainerStore(DockhandDatabase database, TimeProvider time, IEnumerable<SchemaMigrations>? modules = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _time = time;
        _modules = [.. (modules ?? []).Where(m => m.Module != SchemaMigrations.Containers.Module)];
        _lease = database.Dialect.CreateLease();
    }

    public DockhandDatabase Database => _database;

    /// <summary>The token written into operation_process for this process's operations (an <see cref="IOperationLease"/>).</summary>
    private string CurrentProcess => _lease.Current;

    /// <summary>
    /// True while the row's unfinished operation is in the hands of a live process (it holds its lease) that has not
    /// given it up (<see cref="GiveUp"/>). An unfinished operation may be finished or rolled back by someone else only
    /// when this is false.
    /// </summary>
    internal bool IsOperationAlive(StoredRow row)
        => !(row.OperationId is { } operation && _givenUp.ContainsKey(operation)) && IsProcessAlive(row.OperationProcess);

    /// <summary>True while the process that wrote <paramref name="operationProcess"/> is provably alive (it holds its lease).</summary>
    internal bool IsProcessAlive(string? operationProcess) => _lease.IsAlive(operationProcess);

    /// <summary>
    /// Marks an operation of this process as over though its row could not be cleaned up (the database was busy or
    /// gone): the row then counts as dead, and the owner's next create or destroy, or the reconciler, finishes it
    /// without waiting for this process to end.
    /// </summary>
    internal void GiveUp(string operation) => _givenUp.TryAdd(operation, 0);

    /// <summary>The operation's row is gone: nothing left to give up.</summary>
    internal void Forget(string operation) => _givenUp.TryRemove(operation, out _);

    /// <summary>
    /// This database's instance id (migration 005): the <c>dockhand.instance</c> label on everything this instance
    /// creates. Read once, after the database is migrated.
    /// </summary>
    public async ValueTask<string> GetInstanceIdAsync(CancellationToken cancellationToken = default)
    {
        if (_instanceId is { } known)
            return known;
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM dockhand_instance WHERE singleton = 1";
        var id = await command.ExecuteScalarAsync(cancellationToken) as string
            ?? throw new InvalidOperationException($"The database at {_database.Path} has no instance id; it has not been migrated.");
        return _instanceId = id;
    }

    public void Dispose() => _lease.Dispose();

    /// <summary>
    /// Applies the container module's migrations and every registered module's, in one transaction, once per process:
    /// the first call runs the runner, later calls (the host's start-up check, then the hosted service) find it done.
    /// A failed run is not remembered, so the next call tries again.
    /// </summary>
    public Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        lock (_migrationGate)
        {
            if (_migration is null || (_migration.IsCompleted && !_migration.IsCompletedSuccessfully))
                _migration = RunMigrationsAsync(cancellationToken);
            return _migration.IsCompleted ? _migration : _migration.WaitAsync(cancellationToken);
        }
    }

    /// <summary>True when this process's migration made the database (not a file or schema that was there before).</summary>
    public bool CreatedNewDatabase { get; private set; }

    private async Task RunMigrationsAsync(CancellationToken cancellationToken)
    {
        // SQLite: a file that was not there (a Python bot's file has version 0 but holds records). PostgreSQL: no schema yet.
        var existed = _database.Exists;
        var before = await _database.MigrateAsync(_modules, cancellationToken);
        CreatedNewDatabase = _database.Kind == StoreKind.Sqlite ? !existed : before == 0;
    }

    /// <summary>Connects and reads each module's schema version: a cheap check for a health endpoint.</summary>
    public async Task<DatabaseHealth> CheckAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var version = await _database.ReadSchemaVersionAsync(SchemaMigrations.Containers.Module, cancellationToken);
            if (version < DockhandDatabase.LatestVersion)
                return new DatabaseHealth(false, _database.Path, version, $"schema version {version} is behind {DockhandDatabase.LatestVersion}; start Dockhand once to migrate");
            foreach (var module in _modules)
            {
                var moduleVersion = await _database.ReadSchemaVersionAsync(module.Module, cancellationToken);
                if (moduleVersion < module.LatestVersion)
                    return new DatabaseHealth(false, _database.Path, version, $"the {module.Module} module's schema version {moduleVersion} is behind {module.LatestVersion}; start Dockhand once to migrate");
            }
            return new DatabaseHealth(true, _database.Path, version, null);
        }
        catch (Exception e) when (e is DbException or IOException or UnauthorizedAccessException or InvalidOperationException or TimeoutException)
        {
            return new DatabaseHealth(false, _database.Path, null, e.Message.ReplaceLineEndings(" "));
        }
    }

    /// <summary>
    /// Records the intent to create, in one write transaction (<see cref="DockhandDatabase.BeginWriteAsync"/>): refuses when the owner has any row (any state)
    /// or another owner's row has the name. The primary key on discord_user_id backs this across processes.
    /// </summary>
    internal async Task<IntentOutcome> TryInsertIntentAsync(OwnerId owner, string name, string image, string operationId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await _database.BeginWriteAsync(connection, "containers", cancellationToken);
        var existing = await FindAsync(connection, transaction, owner, cancellationToken);
        if (existing is not null)
            return new IntentOutcome.OwnerBusy(existing);
        await using (var nameCheck = connection.CreateCommand())
        {
            nameCheck.Transaction = transaction;
            nameCheck.CommandText = "SELECT 1 FROM containers WHERE container_name = @name LIMIT 1";
            nameCheck.AddParameter("@name", name);
            if (await nameCheck.ExecuteScalarAsync(cancellationToken) is not null)
                return new IntentOutcome.NameTaken();
        }
        var now = Now();
        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO containers (discord_user_id, container_name, container_id, image, created_at, state, operation_id, operation_process, updated_at)
                VALUES (@owner, @name, @id, @image, @now, 'creating', @op, @process, @now)
                """;
            insert.AddParameter("@owner", owner.ToString());
            insert.AddParameter("@name", name);
            insert.AddParameter("@id", PendingIdPrefix + operationId);
            insert.AddParameter("@image", image);
            insert.AddParameter("@now", now);
            insert.AddParameter("@op", operationId);
            insert.AddParameter("@process", CurrentProcess);
            try
            {
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (DbException e) when (_database.IsConstraintViolation(e))
            {
                // A constraint said no (another process won the race between our check and insert).
                return new IntentOutcome.NameTaken();
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return new IntentOutcome.Inserted(ParseTime(now));
    }

    internal Task<int> SetContainerIdAsync(OwnerId owner, string operationId, string containerId, CancellationToken cancellationToken)
        => ExecuteAsync("UPDATE containers SET container_id = @id, updated_at = @now WHERE discord_user_id = @owner AND operation_id = @op AND state = 'creating'",
            cancellationToken, ("@id", containerId), ("@owner", owner.ToString()), ("@op", operationId));

    internal Task<int> MarkReadyAsync(OwnerId owner, string operationId, CancellationToken cancellationToken)
        => ExecuteAsync("UPDATE containers SET state = 'ready', operation_process = NULL, updated_at = @now WHERE discord_user_id = @owner AND operation_id = @op AND state = 'creating'",
            cancellationToken, ("@owner", owner.ToString()), ("@op", operationId));

    /// <summary>Deletes a 'creating' row of the given operation (roll back).</summary>
    internal Task<int> DeleteIntentAsync(OwnerId owner, string operationId, CancellationToken cancellationToken)
        => ExecuteAsync("DELETE FROM containers WHERE discord_user_id = @owner AND operation_id = @op AND state = 'creating'",
            cancellationToken, ("@owner", owner.ToString()), ("@op", operationId));

    /// <summary>
    /// Gives up a 'creating' row of this operation whose roll-back could not finish (the engine was down): it no longer
    /// names a live process, so the owner's next create or destroy, or the reconciler, rolls it back.
    /// </summary>
    internal Task<int> AbandonIntentAsync(OwnerId owner, string operationId, CancellationToken cancellationToken)
        => ExecuteAsync("UPDATE containers SET operation_process = NULL, updated_at = @now WHERE discord_user_id = @owner AND operation_id = @op AND state = 'creating'",
            cancellationToken, ("@owner", owner.ToString()), ("@op", operationId));

    /// <summary>Marks the owner's row 'destroying' under a new operation. Returns the row as it was, or null when there is none.</summary>
    internal async Task<StoredRow?> MarkDestroyingAsync(OwnerId owner, string operationId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await _database.BeginWriteAsync(connection, "containers", cancellationToken);
        var row = await FindAsync(connection, transaction, owner, cancellationToken);
        if (row is null || row.State == RowState.Creating)
            return row;
        await using var update = connection.CreateCommand();
        update.Transaction = transaction;
        update.CommandText = "UPDATE containers SET state = 'destroying', operation_id = @op, operation_process = @process, updated_at = @now WHERE discord_user_id = @owner";
        update.AddParameter("@op", operationId);
        update.AddParameter("@process", CurrentProcess);
        update.AddParameter("@now", Now());
        update.AddParameter("@owner", owner.ToString());
        await update.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return row;
    }

    /// <summary>Puts a 'destroying' row of this operation back to 'ready' (the engine could not remove the container).</summary>
    internal Task<int> RevertDestroyingAsync(OwnerId owner, string operationId, CancellationToken cancellationToken)
        => ExecuteAsync("UPDATE containers SET state = 'ready', operation_process = NULL, updated_at = @now WHERE discord_user_id = @owner AND operation_id = @op AND state = 'destroying'",
            cancellationToken, ("@owner", owner.ToString()), ("@op", operationId));

    /// <summary>Deletes the owner's row whatever its state, when it still holds <paramref name="containerId"/>.</summary>
    internal Task<int> DeleteAsync(OwnerId owner, string containerId, CancellationToken cancellationToken)
        => ExecuteAsync("DELETE FROM containers WHERE discord_user_id = @owner AND container_id = @id",
            cancellationToken, ("@owner", owner.ToString()), ("@id", containerId));

    /// <summary>Inserts a ready row for an adopted container when the owner has none and the name is free.</summary>
    internal async Task<bool> TryAdoptAsync(OwnerId owner, string name, string containerId, string image, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO containers (discord_user_id, container_name, container_id, image, created_at, state, updated_at)
            SELECT @owner, @name, @id, @image, @created, 'ready', @now
            WHERE NOT EXISTS (SELECT 1 FROM containers WHERE discord_user_id = @owner OR container_name = @name OR container_id = @id)
            """;
        command.AddParameter("@owner", owner.ToString());
        command.AddParameter("@name", name);
        command.AddParameter("@id", containerId);
        command.AddParameter("@image", image);
        command.AddParameter("@created", Format(createdAt));
        command.AddParameter("@now", Now());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    internal async Task<StoredRow?> FindAsync(OwnerId owner, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        return await FindAsync(connection, null, owner, cancellationToken);
    }

    /// <summary>Every row, any state (for reconciliation).</summary>
    internal async Task<IReadOnlyList<StoredRow>> AllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM containers ORDER BY created_at, discord_user_id";
        return await ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>A page of ready rows ordered by creation time, and the number of ready rows.</summary>
    internal async Task<(IReadOnlyList<StoredRow> Rows, int Total)> PageAsync(int pageIndex, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM containers WHERE state <> 'creating'";
        var total = Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM containers WHERE state <> 'creating' ORDER BY created_at, discord_user_id LIMIT @limit OFFSET @offset";
        command.AddParameter("@limit", pageSize);
        command.AddParameter("@offset", (long)pageIndex * pageSize);
        return (await ReadRowsAsync(command, cancellationToken), total);
    }

    /// <summary>
    /// Appends to audit_log. Never throws for a full disk or a locked file: the audit must not break the operation.
    /// Public so other modules (the terminal's link issuing) audit through the same table and format.
    /// </summary>
    public async Task AppendAuditAsync(Actor actor, string action, OwnerId? owner, string? name, string? containerId, string outcome, string? detail, CancellationToken cancellationToken = default)
    {
        try
        {
            await ExecuteAsync("""
                INSERT INTO audit_log (at, actor, action, owner_id, container_name, container_id, outcome, detail)
                VALUES (@now, @actor, @action, @owner, @name, @id, @outcome, @detail)
                """, cancellationToken,
                ("@actor", actor.Id), ("@action", action), ("@owner", owner?.ToString()), ("@name", name), ("@id", containerId), ("@outcome", outcome), ("@detail", detail));
        }
        catch (DbException)
        {
        }
    }

    /// <summary>The newest audit entries first, optionally for one owner.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(OwnerId? owner = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT at, actor, action, owner_id, container_name, container_id, outcome, detail FROM audit_log "
            + (owner is null ? "" : "WHERE owner_id = @owner ") + "ORDER BY id DESC LIMIT @limit";
        if (owner is not null)
            command.AddParameter("@owner", owner.Value.ToString());
        command.AddParameter("@limit", limit);
        var entries = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            entries.Add(new AuditEntry(ParseTime(reader.GetString(0)), reader.GetString(1), reader.GetString(2), Text(3), Text(4), Text(5), reader.GetString(6), Text(7)));
        }
        return entries;
    }

    private const string Columns = "discord_user_id, container_name, container_id, image, created_at, state, operation_id, operation_process";

    private static async Task<StoredRow?> FindAsync(DbConnection connection, DbTransaction? transaction, OwnerId owner, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {Columns} FROM containers WHERE discord_user_id = @owner";
        command.AddParameter("@owner", owner.ToString());
        var rows = await ReadRowsAsync(command, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<IReadOnlyList<StoredRow>> ReadRowsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<StoredRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // Seed rows may hold ids that are not snowflakes; they are skipped rather than crash a listing.
            if (!OwnerId.TryParse(reader.GetString(0), out var owner))
                continue;
            rows.Add(new StoredRow(owner, reader.GetString(1), reader.GetString(2), reader.GetString(3), ParseTime(reader.GetValue(4)?.ToString()),
                reader.IsDBNull(5) ? RowState.Ready : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return rows;
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (sql.Contains("@now", StringComparison.Ordinal))
            command.AddParameter("@now", Now());
        foreach (var (name, value) in parameters)
            command.AddParameter(name, value ?? DBNull.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private string Now() => Format(_time.GetUtcNow());

    /// <summary>ISO-8601 UTC, as the seed wrote created_at (plus milliseconds and a Z).</summary>
    internal static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string? text)
        => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : DateTimeOffset.UnixEpoch;
}
