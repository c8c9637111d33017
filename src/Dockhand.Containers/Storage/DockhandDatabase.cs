using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Storage;

/// <summary>What a backup copy holds: its path, instance id, row counts, schema version and SQLite's integrity check ("ok").</summary>
public sealed record BackupSummary(string Path, string InstanceId, long Containers, long AuditEntries, long TerminalLinks, int SchemaVersion, string Integrity);

/// <summary>
/// The one database Dockhand keeps: container records, the audit log and terminal links. A SQLite file
/// (<c>DATABASE_PATH</c>, the default) or a PostgreSQL database (<c>DATABASE_URL</c>); <see cref="StoreDialect"/> holds
/// what differs. <see cref="MigrateAsync(IEnumerable{SchemaMigrations}, CancellationToken)"/> applies each module's
/// numbered migrations (<see cref="SchemaMigrations"/>) once, recording them in <c>schema_migrations</c>.
/// </summary>
public sealed class DockhandDatabase : IDisposable
{
    private const string VersionTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            module     TEXT NOT NULL,
            version    INTEGER NOT NULL,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            PRIMARY KEY (module, version)
        )
        """;

    private readonly StoreDialect _dialect;

    /// <summary>A SQLite file at <paramref name="path"/> (resolved now against the working directory).</summary>
    public DockhandDatabase(string path)
        : this(new SqliteDialect(path))
    {
    }

    private DockhandDatabase(StoreDialect dialect) => _dialect = dialect;

    /// <summary>PostgreSQL at <paramref name="url"/> (<c>postgres://…</c>). Throws <see cref="FormatException"/> for a bad URL.</summary>
    public static DockhandDatabase ForPostgres(string url) => new(new PostgresDialect(url));

    /// <summary>PostgreSQL when <paramref name="url"/> is set, else the SQLite file at <paramref name="path"/>.</summary>
    public static DockhandDatabase FromSettings(string path, string? url)
        => string.IsNullOrWhiteSpace(url) ? new DockhandDatabase(path) : ForPostgres(url);

    public StoreKind Kind => _dialect.Kind;

    /// <summary>SQLite: the absolute file path. PostgreSQL: the URL without its password. For messages and logs.</summary>
    public string Path => _dialect.Location;

    /// <summary>False only for a SQLite file that is not there yet; verbs that only read or change records refuse to create it.</summary>
    public bool Exists => _dialect.Exists;

    /// <summary>The highest migration number of the container module shipped with this build.</summary>
    public static int LatestVersion => SchemaMigrations.Containers.LatestVersion;

    internal StoreDialect Dialect => _dialect;

    /// <summary>An open connection (SQLite: with WAL, foreign keys and a busy timeout set).</summary>
    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => _dialect.OpenAsync(cancellationToken);

    /// <summary>A transaction no other writer of <paramref name="scope"/> interleaves with, in any process (<see cref="StoreDialect.BeginWriteAsync"/>).</summary>
    public Task<DbTransaction> BeginWriteAsync(DbConnection connection, string scope, CancellationToken cancellationToken = default)
        => _dialect.BeginWriteAsync(connection, scope, cancellationToken);

    /// <summary>True when a statement failed on a constraint (unique, primary key, not null, check).</summary>
    public bool IsConstraintViolation(DbException exception) => _dialect.IsConstraintViolation(exception);

    /// <summary>Applies the container module's migrations only.</summary>
    public Task<int> MigrateAsync(CancellationToken cancellationToken = default) => MigrateAsync([], cancellationToken);

    /// <summary>
    /// Applies every migration not yet applied, the container module's first, then <paramref name="modules"/>'s, in one
    /// transaction: a failure leaves the database as it was, and two processes starting together apply each once.
    /// Returns the container module's version before the run (0: a new database, or the Python bot's).
    /// </summary>
    public async Task<int> MigrateAsync(IEnumerable<SchemaMigrations> modules, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, "migrations", cancellationToken);
        var before = await ApplyMigrationsAsync(connection, transaction, modules, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return before;
    }

    /// <summary>The runner, inside a write transaction the caller owns (also used by <see cref="StoreCopier"/>).</summary>
    internal async Task<int> ApplyMigrationsAsync(DbConnection connection, DbTransaction transaction, IEnumerable<SchemaMigrations> modules, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, VersionTable, cancellationToken);
        var versions = await ReadVersionsAsync(connection, transaction, cancellationToken);
        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        if (Kind == StoreKind.Sqlite && !versions.ContainsKey(SchemaMigrations.Containers.Module))
        {
            // Files migrated before schema_migrations counted the container module's migrations in PRAGMA user_version.
            var before = await ReadUserVersionAsync(connection, transaction, cancellationToken);
            foreach (var migration in SchemaMigrations.Containers.For(Kind).Where(m => m.Version <= before))
                await RecordAsync(connection, transaction, SchemaMigrations.Containers.Module, migration, now, cancellationToken);
            if (before > 0)
                versions[SchemaMigrations.Containers.Module] = before;
        }
        var containersBefore = versions.GetValueOrDefault(SchemaMigrations.Containers.Module);
        var ordered = modules.Prepend(SchemaMigrations.Containers).DistinctBy(m => m.Module);
        foreach (var module in ordered)
        {
            var current = versions.GetValueOrDefault(module.Module);
            foreach (var migration in module.For(Kind).Where(m => m.Version > current))
            {
                await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken);
                await RecordAsync(connection, transaction, module.Module, migration, now, cancellationToken);
            }
        }
        if (Kind == StoreKind.Sqlite)
        {
            // Kept in step for older Dockhand builds, which read the container module's version here.
            // PRAGMA cannot take parameters; the version is an integer parsed from a file name we ship.
            await ExecuteAsync(connection, transaction, $"PRAGMA user_version = {LatestVersion.ToString(CultureInfo.InvariantCulture)}", cancellationToken);
        }
        return containersBefore;
    }

    /// <summary>The version of <paramref name="module"/> this database is at (0 when it has none, or no schema yet).</summary>
    public async Task<int> ReadSchemaVersionAsync(string module = "containers", CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        if (!await HasTableAsync(connection, null, "schema_migrations", cancellationToken))
            return Kind == StoreKind.Sqlite && module == SchemaMigrations.Containers.Module ? await ReadUserVersionAsync(connection, null, cancellationToken) : 0;
        var versions = await ReadVersionsAsync(connection, null, cancellationToken);
        return versions.GetValueOrDefault(module);
    }

    /// <summary>
    /// Copies the live SQLite file to <paramref name="destination"/> (which must not exist) through SQLite's online backup
    /// API: a consistent snapshot, taken while the bot keeps writing (WAL readers do not block writers). Returns what
    /// the copy holds, read back from the copy. On PostgreSQL it throws <see cref="NotSupportedException"/>: the
    /// server's own pg_dump is the tool (README, "PostgreSQL").
    /// </summary>
    public async Task<BackupSummary> BackupToAsync(string destination, CancellationToken cancellationToken = default)
    {
        if (Kind != StoreKind.Sqlite)
            throw new NotSupportedException("dockhand backup copies a SQLite file; for PostgreSQL use pg_dump (see the README's PostgreSQL section)");
        var target = System.IO.Path.GetFullPath(destination);
        if (File.Exists(target))
            throw new IOException($"{target} already exists; choose a new file, so no backup is ever overwritten");
        var directory = System.IO.Path.GetDirectoryName(target);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);
        await using (var source = (SqliteConnection)await OpenAsync(cancellationToken))
        await using (var copy = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString()))
        {
            await copy.OpenAsync(cancellationToken);
            source.BackupDatabase(copy);
        }
        await using var check = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await check.OpenAsync(cancellationToken);
        // terminal_links is the Terminal module's: a file only ever used by CLI verbs may not have it.
        var links = await HasTableAsync(check, null, "terminal_links", cancellationToken) ? "(SELECT COUNT(*) FROM terminal_links)" : "0";
        await using var command = check.CreateCommand();
        command.CommandText = $"""
            SELECT (SELECT id FROM dockhand_instance), (SELECT COUNT(*) FROM containers), (SELECT COUNT(*) FROM audit_log),
                   {links}, (SELECT integrity_check FROM pragma_integrity_check LIMIT 1)
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new BackupSummary(target, reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), await ReadUserVersionAsync(check, null, cancellationToken), reader.GetString(4));
    }

    /// <summary>True when <paramref name="table"/> exists (in PostgreSQL: in the connection's search path).</summary>
    internal async Task<bool> HasTableAsync(DbConnection connection, DbTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = connection is SqliteConnection
            ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @table"
            : "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = @table AND schemaname = ANY (current_schemas(false))";
        command.AddParameter("@table", table);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
    }

    public void Dispose() => _dialect.Dispose();

    private static async Task<Dictionary<string, int>> ReadVersionsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT module, MAX(version) FROM schema_migrations GROUP BY module";
        var versions = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            versions[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
        return versions;
    }

    private static async Task RecordAsync(DbConnection connection, DbTransaction transaction, string module, Migration migration, string now, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO schema_migrations (module, version, name, applied_at) VALUES (@module, @version, @name, @now)";
        command.AddParameter("@module", module).AddParameter("@version", migration.Version).AddParameter("@name", migration.Name).AddParameter("@now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<int> ReadUserVersionAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
