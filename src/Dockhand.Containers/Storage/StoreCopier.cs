using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Storage;

/// <summary>What <see cref="StoreCopier.CopyAsync"/> did: rows inserted per table, and what it left behind on purpose.</summary>
/// <param name="SkippedSeedTokens">The Python bot's clear-text terminal_tokens rows: never read by Dockhand, and deleted
/// by SQLite migration 004, so they are not carried into a new database.</param>
public sealed record StoreCopySummary(string Instance, long Containers, long AuditEntries, long TerminalLinks, long SkippedSeedTokens, long SourceContainers, long SourceAuditEntries, long SourceTerminalLinks)
{
    public bool ChangedNothing => Containers == 0 && AuditEntries == 0 && TerminalLinks == 0;
}

/// <summary>The target already holds another instance's records; copying would mix two instances.</summary>
public sealed class StoreCopyRefusedException(string message) : Exception(message);

/// <summary>
/// <c>dockhand migrate-store</c>: copies a SQLite file (Dockhand's, at any schema version, or the Python bot's) into
/// another database, usually PostgreSQL. One transaction on the target: the target's migrations, the instance id, then
/// every row (<c>ON CONFLICT DO NOTHING</c>, so a second run inserts nothing). Any failure rolls all of it back, so a
/// new target is left empty. The source is opened read-only and never migrated or changed.
/// </summary>
public static class StoreCopier
{
    public static async Task<StoreCopySummary> CopyAsync(string sqlitePath, DockhandDatabase target, IEnumerable<SchemaMigrations> modules, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        var path = Path.GetFullPath(sqlitePath);
        if (!File.Exists(path))
            throw new FileNotFoundException($"there is no SQLite file at {path}", path);
        await using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await source.OpenAsync(cancellationToken);
        var sourceTables = await ListTablesAsync(source, cancellationToken);
        if (!sourceTables.Contains("containers"))
            throw new StoreCopyRefusedException($"{path} has no containers table: it is not a database of Dockhand or of the Python bot");

        await using var connection = await target.OpenAsync(cancellationToken);
        await using var transaction = await target.BeginWriteAsync(connection, "migrations", cancellationToken);
        await target.ApplyMigrationsAsync(connection, transaction, modules, cancellationToken);
        var instance = await AdoptInstanceAsync(source, sourceTables, connection, transaction, cancellationToken);

        var containerColumns = new[] { "discord_user_id", "container_name", "container_id", "image", "created_at", "state", "operation_id", "operation_process", "updated_at" };
        var (containers, sourceContainers) = await CopyTableAsync(source, connection, transaction, "containers", containerColumns,
            new Dictionary<string, object> { ["state"] = "ready" }, cancellationToken);
        var (audit, sourceAudit) = sourceTables.Contains("audit_log")
            ? await CopyTableAsync(source, connection, transaction, "audit_log", ["id", "at", "actor", "action", "owner_id", "container_name", "container_id", "outcome", "detail"], [], cancellationToken)
            : (0L, 0L);
        if (audit > 0 && target.Kind == StoreKind.Postgres)
        {
            // Rows came with their ids; the next id the database gives must follow the highest.
            await ExecuteAsync(connection, transaction, "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), (SELECT MAX(id) FROM audit_log))", cancellationToken);
        }
        var (links, sourceLinks) = sourceTables.Contains("terminal_links") && await target.HasTableAsync(connection, transaction, "terminal_links", cancellationToken)
            ? await CopyTableAsync(source, connection, transaction, "terminal_links", ["token_hash", "owner_id", "container_id", "created_at", "expires_at", "used_at"], [], cancellationToken)
            : (0L, 0L);
        var seedTokens = sourceTables.Contains("terminal_tokens") ? await CountAsync(source, null, "terminal_tokens", cancellationToken) : 0;
        await transaction.CommitAsync(cancellationToken);
        return new StoreCopySummary(instance, containers, audit, links, seedTokens, sourceContainers, sourceAudit, sourceLinks);
    }

    /// <summary>
    /// The target takes the source's instance id (the label on every container the source made). A target that holds
    /// records under another id is refused; one that holds none (just migrated) takes the source's id.
    /// A Python bot's file has no id: the target keeps its own, as migrating that file in place would make one.
    /// </summary>
    private static async Task<string> AdoptInstanceAsync(SqliteConnection source, HashSet<string> sourceTables, DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT id FROM dockhand_instance WHERE singleton = 1";
        var targetId = (string)(await read.ExecuteScalarAsync(cancellationToken))!;
        if (!sourceTables.Contains("dockhand_instance"))
            return targetId;
        await using var sourceRead = source.CreateCommand();
        sourceRead.CommandText = "SELECT id, created_at FROM dockhand_instance WHERE singleton = 1";
        await using var reader = await sourceRead.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return targetId;
        var sourceId = reader.GetString(0);
        var sourceCreated = Convert.ToString(reader.GetValue(1), CultureInfo.InvariantCulture);
        if (sourceId == targetId)
            return targetId;
        foreach (var table in new[] { "containers", "audit_log" })
        {
            if (await CountAsync(connection, transaction, table, cancellationToken) > 0)
                throw new StoreCopyRefusedException($"the target already holds the records of instance {targetId}, and the source is instance {sourceId}; copy into an empty database");
        }
        await using var update = connection.CreateCommand();
        update.Transaction = transaction;
        update.CommandText = "UPDATE dockhand_instance SET id = @id, created_at = @created WHERE singleton = 1";
        update.AddParameter("@id", sourceId).AddParameter("@created", sourceCreated);
        await update.ExecuteNonQueryAsync(cancellationToken);
        return sourceId;
    }

    /// <summary>Copies the <paramref name="columns"/> the source has (the others get <paramref name="defaults"/> or NULL). Returns (inserted, read).</summary>
    private static async Task<(long Inserted, long Read)> CopyTableAsync(SqliteConnection source, DbConnection connection, DbTransaction transaction,
        string table, string[] columns, Dictionary<string, object> defaults, CancellationToken cancellationToken)
    {
        var present = await ListColumnsAsync(source, table, cancellationToken);
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "@" + c))}) ON CONFLICT DO NOTHING";
        await using var select = source.CreateCommand();
        select.CommandText = $"SELECT {string.Join(", ", columns.Select(c => present.Contains(c) ? c : "NULL"))} FROM {table} ORDER BY rowid";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        long inserted = 0, read = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            read++;
            insert.Parameters.Clear();
            for (var i = 0; i < columns.Length; i++)
            {
                object? value = reader.IsDBNull(i) ? defaults.GetValueOrDefault(columns[i]) : reader.GetValue(i);
                // Every column but audit_log.id is text on both sides; SQLite may hold a number or a blob in a TEXT column.
                if (value is not null && columns[i] != "id")
                    value = value is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : Convert.ToString(value, CultureInfo.InvariantCulture);
                insert.AddParameter("@" + columns[i], value);
            }
            inserted += await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        return (inserted, read);
    }

    private static async Task<HashSet<string>> ListTablesAsync(SqliteConnection source, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table'";
        var tables = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            tables.Add(reader.GetString(0));
        return tables;
    }

    private static async Task<HashSet<string>> ListColumnsAsync(SqliteConnection source, string table, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_info(@table)";
        command.AddParameter("@table", table);
        var columns = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            columns.Add(reader.GetString(0));
        return columns;
    }

    private static async Task<long> CountAsync(DbConnection connection, DbTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT COUNT(*) FROM {table}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
