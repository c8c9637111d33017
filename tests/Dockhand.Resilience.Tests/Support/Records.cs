using Microsoft.Data.Sqlite;

namespace Dockhand.Resilience.Tests.Support;

/// <summary>One row of the containers table, bookkeeping included.</summary>
public sealed record RecordRow(string Owner, string Name, string ContainerId, string State);

/// <summary>Reads a Dockhand database directly, as an operator with the sqlite3 shell would.</summary>
public static class Records
{
    public static async Task<IReadOnlyList<RecordRow>> ReadAsync(string databasePath, CancellationToken cancellationToken = default)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT discord_user_id, container_name, container_id, state FROM containers ORDER BY discord_user_id";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<RecordRow>();
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(new RecordRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        return rows;
    }

    /// <summary>PRAGMA integrity_check's answer: "ok" for an intact file.</summary>
    public static async Task<string> IntegrityCheckAsync(string databasePath, CancellationToken cancellationToken = default)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            lines.Add(reader.GetString(0));
        return string.Join("; ", lines);
    }

    public static async Task ExecuteAsync(string databasePath, string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
