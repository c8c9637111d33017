using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Tests.Storage;

/// <summary>Writes a containers.db the way the original Python bot did, so tests can open it with Dockhand.</summary>
internal static class SeedDatabase
{
    /// <summary>The exact DDL the Python bot ran.</summary>
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS containers (discord_user_id TEXT PRIMARY KEY, container_name TEXT NOT NULL, container_id TEXT NOT NULL UNIQUE, image TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
        CREATE TABLE IF NOT EXISTS terminal_tokens (container_id TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at TIMESTAMP NOT NULL);
        """;

    /// <summary>Creates the seed schema at <paramref name="path"/> and runs <paramref name="rows"/> (INSERT statements).</summary>
    public static async Task WriteAsync(string path, string rows, CancellationToken cancellationToken)
    {
        await using var seed = new SqliteConnection($"Data Source={path};Pooling=False");
        await seed.OpenAsync(cancellationToken);
        await using var command = seed.CreateCommand();
        command.CommandText = Schema + rows;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
