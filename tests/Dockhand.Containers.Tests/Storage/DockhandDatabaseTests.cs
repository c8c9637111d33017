using Dockhand.Containers.Storage;
using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Tests.Storage;

public sealed class DockhandDatabaseTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-db-").FullName;

    [Fact]
    public async Task MigrateAsync_SeedDatabase_KeepsRowsAndReachesLatestVersion()
    {
        var path = Path.Combine(_directory, "containers.db");
        await using (var seed = new SqliteConnection($"Data Source={path}"))
        {
            await seed.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = seed.CreateCommand();
            // The exact DDL the Python bot ran, and one of its rows.
            command.CommandText = """
                CREATE TABLE IF NOT EXISTS containers (discord_user_id TEXT PRIMARY KEY, container_name TEXT NOT NULL, container_id TEXT NOT NULL UNIQUE, image TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
                CREATE TABLE IF NOT EXISTS terminal_tokens (container_id TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at TIMESTAMP NOT NULL);
                INSERT INTO containers VALUES ('80351110224678912', 'alice-box', 'abc123', 'ubuntu:24.04', '2024-05-01T10:00:00');
                """;
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }
        SqliteConnection.ClearAllPools();

        var database = new DockhandDatabase(path);
        await database.MigrateAsync(TestContext.Current.CancellationToken);
        await database.MigrateAsync(TestContext.Current.CancellationToken);

        await using var connection = await database.OpenAsync(TestContext.Current.CancellationToken);
        Assert.Equal(DockhandDatabase.LatestVersion, await DockhandDatabase.ReadUserVersionAsync(connection, TestContext.Current.CancellationToken));
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT container_name || '|' || container_id || '|' || image FROM containers WHERE discord_user_id = '80351110224678912'";
        Assert.Equal("alice-box|abc123|ubuntu:24.04", await read.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
