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
        await SeedDatabase.WriteAsync(path, """
                INSERT INTO containers VALUES ('80351110224678912', 'alice-box', 'abc123', 'ubuntu:24.04', '2024-05-01T10:00:00');
            """, TestContext.Current.CancellationToken);
        SqliteConnection.ClearAllPools();

        using var database = new DockhandDatabase(path);
        await database.MigrateAsync(TestContext.Current.CancellationToken);
        await database.MigrateAsync(TestContext.Current.CancellationToken);

        Assert.Equal(DockhandDatabase.LatestVersion, await database.ReadSchemaVersionAsync(cancellationToken: TestContext.Current.CancellationToken));
        await using var connection = await database.OpenAsync(TestContext.Current.CancellationToken);
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT container_name || '|' || container_id || '|' || image FROM containers WHERE discord_user_id = '80351110224678912'";
        Assert.Equal("alice-box|abc123|ubuntu:24.04", await read.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task MigrateAsync_SeedDatabaseWithTokens_DeletesTokensKeepsTableAndContainers()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(_directory, "containers.db");
        await SeedDatabase.WriteAsync(path, """
                INSERT INTO containers VALUES ('80351110224678912', 'alice-box', 'abc123', 'ubuntu:24.04', '2024-05-01T10:00:00');
                INSERT INTO containers VALUES ('80351110224678913', 'bob-box', 'def456', 'ubuntu:24.04', '2024-05-02T11:30:00');
                INSERT INTO terminal_tokens VALUES ('abc123', 'clear-text-token', '2099-01-01T00:00:00');
            """, TestContext.Current.CancellationToken);
        SqliteConnection.ClearAllPools();

        using var database = new DockhandDatabase(path);
        await database.MigrateAsync(ct);

        await using var connection = await database.OpenAsync(ct);
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT COUNT(*) FROM terminal_tokens";
        Assert.Equal(0L, await read.ExecuteScalarAsync(ct));
        read.CommandText = "SELECT group_concat(discord_user_id || '|' || container_name || '|' || container_id || '|' || image || '|' || created_at, ';') FROM (SELECT * FROM containers ORDER BY discord_user_id)";
        Assert.Equal(
            "80351110224678912|alice-box|abc123|ubuntu:24.04|2024-05-01T10:00:00;80351110224678913|bob-box|def456|ubuntu:24.04|2024-05-02T11:30:00",
            await read.ExecuteScalarAsync(ct));
        read.CommandText = "INSERT INTO terminal_tokens VALUES ('x', 'y', '2099-01-01T00:00:00')"; // the table (contract) is still there
        Assert.Equal(1, await read.ExecuteNonQueryAsync(ct));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
