using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Storage;

/// <summary>What a backup copy holds: its path, instance id, row counts, schema version and SQLite's integrity check ("ok").</summary>
public sealed record BackupSummary(string Path, string InstanceId, long Containers, long AuditEntries, long TerminalLinks, int SchemaVersion, string Integrity);

/// <summary>
/// The one SQLite file Dockhand keeps: container records, the audit log and terminal links.
/// Opening it applies the numbered migrations in <c>Migrations/*.sql</c> by <c>PRAGMA user_version</c>.
/// </summary>
public sealed partial class DockhandDatabase
{
    private readonly string _connectionString;

    public DockhandDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The absolute path, resolved once against the working directory when Dockhand starts.</summary>
    public string Path { get; }

    /// <summary>True when the file is there; verbs that only read or change existing records refuse to create it.</summary>
    public bool Exists => File.Exists(Path);

    /// <summary>The highest migration number shipped with this build.</summary>
    public static int LatestVersion => Migrations.Value[^1].Version;

    /// <summary>Opens a connection with WAL, foreign keys and a busy timeout set.</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>Applies every migration above the file's <c>user_version</c>, each in its own transaction.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);

        await using var connection = await OpenAsync(cancellationToken);
        var current = await ReadUserVersionAsync(connection, cancellationToken);
        foreach (var migration in Migrations.Value.Where(m => m.Version > current))
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            // PRAGMA cannot take parameters; the version is an integer parsed from a file name we ship.
            command.CommandText = migration.Sql + $"\nPRAGMA user_version = {migration.Version};";
            await command.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Copies the live database to <paramref name="destination"/> (which must not exist) through SQLite's online backup
    /// API: a consistent snapshot, taken while the bot keeps writing (WAL readers do not block writers). Returns what
    /// the copy holds, read back from the copy.
    /// </summary>
    public async Task<BackupSummary> BackupToAsync(string destination, CancellationToken cancellationToken = default)
    {
        var target = System.IO.Path.GetFullPath(destination);
        if (File.Exists(target))
            throw new IOException($"{target} already exists; choose a new file, so no backup is ever overwritten");
        var directory = System.IO.Path.GetDirectoryName(target);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);
        await using (var source = await OpenAsync(cancellationToken))
        await using (var copy = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString()))
        {
            await copy.OpenAsync(cancellationToken);
            source.BackupDatabase(copy);
        }
        await using var check = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await check.OpenAsync(cancellationToken);
        await using var command = check.CreateCommand();
        command.CommandText = """
            SELECT (SELECT id FROM dockhand_instance), (SELECT COUNT(*) FROM containers), (SELECT COUNT(*) FROM audit_log),
                   (SELECT COUNT(*) FROM terminal_links), (SELECT integrity_check FROM pragma_integrity_check LIMIT 1)
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new BackupSummary(target, reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), await ReadUserVersionAsync(check, cancellationToken), reader.GetString(4));
    }

    public static async Task<int> ReadUserVersionAsync(SqliteConnection connection, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Migration(int Version, string Name, string Sql);

    private static readonly Lazy<IReadOnlyList<Migration>> Migrations = new(LoadMigrations);

    private static List<Migration> LoadMigrations()
    {
        var assembly = typeof(DockhandDatabase).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (!match.Success)
                continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(int.Parse(match.Groups["version"].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups["name"].Value, reader.ReadToEnd()));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        if (migrations.Count == 0 || migrations.Select(m => m.Version).Distinct().Count() != migrations.Count)
            throw new InvalidOperationException("Migrations must be embedded with distinct numbers (Migrations/NNN_name.sql).");
        return migrations;
    }

    [GeneratedRegex(@"\.Migrations\.(?<version>\d{3})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex MigrationName();
}
