using System.Security.Cryptography;
using System.Text.Json;
using Dockhand.Containers.Storage;
using Dockhand.Terminal;
using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Tests.Storage;

/// <summary><c>dockhand migrate-store --from sqlite:PATH --to postgres://…</c> against a real PostgreSQL server.</summary>
public sealed class MigrateStoreTests(PostgresServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Run(int ExitCode, string Out, string Err);

    /// <summary>
    /// The real executable with no settings, started where the tests run (as <c>dotnet test</c> does: no .env there). These
    /// tests read the store's internals, so they stay beside it; the CLI itself they reach as an operator does.
    /// </summary>
    private static async Task<Run> RunAsync(params string[] args)
    {
        var run = await DockhandChild.RunAsync(AppContext.BaseDirectory, new Dictionary<string, string?>(), args, cancellationToken: Ct);
        return new Run(run.ExitCode, run.Stdout, run.Stderr);
    }

    [Fact]
    public async Task MigrateStore_PythonBotFile_CopiesEveryRecordAndSecondRunChangesNothing()
    {
        await using var source = await TestDatabase.CreateAsync(server, StoreKind.Sqlite, Ct);
        await using var target = await TestDatabase.CreateAsync(server, StoreKind.Postgres, Ct);
        await SeedDatabase.WriteAsync(source.SqlitePath, """
                INSERT INTO containers VALUES ('80351110224678912', 'alice-box', 'abc123', 'ubuntu:24.04', '2024-05-01T10:00:00');
                INSERT INTO containers VALUES ('80351110224678913', 'bob-box', 'def456', 'ubuntu:24.04', '2024-05-02 11:30:00.123456');
                INSERT INTO terminal_tokens VALUES ('abc123', 'clear-text-token', '2099-01-01T00:00:00');
            """, Ct);
        SqliteConnection.ClearAllPools();
        var sourceHash = await HashAsync(source.SqlitePath);

        var first = await RunAsync("migrate-store", "--from", "sqlite:" + source.SqlitePath, "--to", target.Url!, "--json");
        var afterFirst = await SnapshotAsync(target.Open());
        var second = await RunAsync("migrate-store", "--from", "sqlite:" + source.SqlitePath, "--to", target.Url!);
        var afterSecond = await SnapshotAsync(target.Open());

        Assert.Equal(0, first.ExitCode);
        using (var json = JsonDocument.Parse(first.Out))
        {
            Assert.Equal(2, json.RootElement.GetProperty("containers").GetInt64());
            Assert.Equal(1, json.RootElement.GetProperty("skippedSeedTokens").GetInt64());
        }
        Assert.Equal(0, second.ExitCode);
        Assert.StartsWith("nothing to copy:", second.Out, StringComparison.Ordinal);
        Assert.Equal(afterFirst, afterSecond);
        Assert.Contains("containers|80351110224678913|bob-box|def456|ubuntu:24.04|2024-05-02 11:30:00.123456|ready|NULL|NULL|NULL", afterFirst, StringComparison.Ordinal);
        Assert.Contains("schema_migrations|terminal|1", afterFirst, StringComparison.Ordinal);
        Assert.DoesNotContain("clear-text-token", afterFirst, StringComparison.Ordinal);
        Assert.Equal(sourceHash, await HashAsync(source.SqlitePath)); // the source is only read

        // Dockhand works on the copy: the rows read as the seed wrote them.
        using var store = new ContainerStore(target.Open(), TimeProvider.System, [TerminalSchema.Migrations]);
        await store.MigrateAsync(Ct);
        var bob = await store.FindAsync(new OwnerId(80351110224678913), Ct);
        Assert.Equal(new DateTimeOffset(2024, 5, 2, 11, 30, 0, 123, TimeSpan.Zero).AddTicks(4560), bob!.CreatedAt);
        Assert.False(store.CreatedNewDatabase);
    }

    [Fact]
    public async Task MigrateStore_DockhandFile_KeepsInstanceAuditIdsLinksAndOperations()
    {
        await using var source = await TestDatabase.CreateAsync(server, StoreKind.Sqlite, Ct);
        await using var target = await TestDatabase.CreateAsync(server, StoreKind.Postgres, Ct);
        var owner = new OwnerId(80351110224678914);
        string instance;
        using (var sqlite = new ContainerStore(source.Open(), TimeProvider.System, [TerminalSchema.Migrations]))
        {
            await sqlite.MigrateAsync(Ct);
            instance = await sqlite.GetInstanceIdAsync(Ct);
            await sqlite.TryInsertIntentAsync(owner, "carol-box", "busybox", "op-1", Ct);
            await sqlite.SetContainerIdAsync(owner, "op-1", "cid-carol", Ct);
            await sqlite.MarkReadyAsync(owner, "op-1", Ct);
            await sqlite.TryInsertIntentAsync(new OwnerId(80351110224678915), "dave-box", "busybox", "op-2", Ct); // left 'creating'
            for (var i = 0; i < 3; i++)
                await sqlite.AppendAuditAsync(Actor.Cli("op"), "create", owner, "carol-box", "cid-carol", "created", $"entry {i}", Ct);
            await ExecuteAsync(sqlite.Database, "INSERT INTO terminal_links VALUES ('" + new string('f', 64) + "', '80351110224678914', 'cid-carol', '2026-01-01T00:00:00.0000000Z', '2026-01-01T01:00:00.0000000Z', NULL)");
        }
        SqliteConnection.ClearAllPools();

        var run = await RunAsync("migrate-store", "--from", "sqlite:" + source.SqlitePath, "--to", target.Url!);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("2 of 2 containers, 3 of 3 audit entries, 1 of 1 terminal links", run.Out, StringComparison.Ordinal);
        using var store = new ContainerStore(target.Open(), TimeProvider.System, [TerminalSchema.Migrations]);
        Assert.Equal(instance, await store.GetInstanceIdAsync(Ct));
        var dave = await store.FindAsync(new OwnerId(80351110224678915), Ct);
        Assert.Equal((RowState.Creating, "op-2"), (dave!.State, dave.OperationId));
        Assert.False(store.IsProcessAlive(dave.OperationProcess)); // a SQLite lease names no process of this database
        await store.AppendAuditAsync(Actor.Cli("op"), "destroy", owner, "carol-box", "cid-carol", "destroyed", null, Ct);
        Assert.Equal(["4", "3", "2", "1"], await ContainerStoreTests.ReadColumnAsync(store.Database, "SELECT CAST(id AS TEXT) FROM audit_log ORDER BY id DESC"));
        Assert.Equal(["1"], await ContainerStoreTests.ReadColumnAsync(store.Database, "SELECT CAST(COUNT(*) AS TEXT) FROM terminal_links WHERE owner_id = '80351110224678914'"));
    }

    [Fact]
    public async Task MigrateStore_RowFailsPartWay_RollsBackAndLeavesTargetEmpty()
    {
        await using var source = await TestDatabase.CreateAsync(server, StoreKind.Sqlite, Ct);
        await using var target = await TestDatabase.CreateAsync(server, StoreKind.Postgres, Ct);
        using (var sqlite = new ContainerStore(source.Open(), TimeProvider.System))
        {
            await sqlite.MigrateAsync(Ct);
            await sqlite.TryInsertIntentAsync(new OwnerId(80351110224678916), "erin-box", "busybox", "op-1", Ct);
            await sqlite.AppendAuditAsync(Actor.Cli("op"), "create", null, null, null, "created", "fine", Ct);
            // SQLite keeps a NUL character in text; PostgreSQL refuses it, so the copy fails after containers went in.
            await ExecuteAsync(sqlite.Database, "INSERT INTO audit_log (at, actor, action, outcome, detail) VALUES ('2026-01-01T00:00:00.000Z', 'cli:op', 'create', 'created', 'a' || char(0) || 'b')");
        }
        SqliteConnection.ClearAllPools();

        var run = await RunAsync("migrate-store", "--from", "sqlite:" + source.SqlitePath, "--to", target.Url!);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("the copy failed and was rolled back", run.Err, StringComparison.Ordinal);
        Assert.Equal(["0"], await ContainerStoreTests.ReadColumnAsync(target.Open(), "SELECT CAST(COUNT(*) AS TEXT) FROM pg_tables WHERE schemaname = 'public'"));
    }

    [Fact]
    public async Task MigrateStore_TargetHoldsAnotherInstance_RefusesAndChangesNothing()
    {
        await using var source = await TestDatabase.CreateAsync(server, StoreKind.Sqlite, Ct);
        await using var target = await TestDatabase.CreateAsync(server, StoreKind.Postgres, Ct);
        using (var sqlite = new ContainerStore(source.Open(), TimeProvider.System))
            await sqlite.MigrateAsync(Ct);
        SqliteConnection.ClearAllPools();
        using var postgres = new ContainerStore(target.Open(), TimeProvider.System, [TerminalSchema.Migrations]);
        await postgres.MigrateAsync(Ct);
        await postgres.AppendAuditAsync(Actor.Cli("op"), "create", null, null, null, "created", null, Ct);
        var before = await SnapshotAsync(postgres.Database);

        var run = await RunAsync("migrate-store", "--from", "sqlite:" + source.SqlitePath, "--to", target.Url!);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("copy into an empty database; nothing was copied", run.Err, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(postgres.Database));
    }

    [Theory]
    [InlineData("containers.db", "postgres://u@127.0.0.1/db", "--from: write sqlite:PATH")]
    [InlineData("sqlite:/nonexistent/containers.db", "postgres://u@127.0.0.1/db", "--from: there is no file at /nonexistent/containers.db")]
    [InlineData("sqlite:containers.db", "mysql://u@127.0.0.1/db", "--to: write a PostgreSQL URL")]
    [InlineData("sqlite:containers.db", "postgres://u@127.0.0.1/db?frobnicate=1", "--to: the parameter 'frobnicate' is not supported")]
    public async Task MigrateStore_BadArguments_Exit2WithOneSentence(string from, string to, string expected)
    {
        var run = await RunAsync("migrate-store", "--from", from, "--to", to);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("dockhand: " + expected, run.Err, StringComparison.Ordinal);
        Assert.Single(run.Err.TrimEnd().Split('\n'));
    }

    /// <summary>Every row of every Dockhand table, as text, in a fixed order (applied_at aside: it is when, not what).</summary>
    private static async Task<string> SnapshotAsync(DockhandDatabase database)
    {
        var lines = new List<string>();
        foreach (var (table, order) in new[] { ("containers", "discord_user_id"), ("audit_log", "id"), ("terminal_links", "token_hash"), ("dockhand_instance", "singleton"), ("schema_migrations", "module, version") })
        {
            await using var connection = await database.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM {table} ORDER BY {order}";
            await using var reader = await command.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                var values = Enumerable.Range(0, reader.FieldCount).Where(i => reader.GetName(i) != "applied_at")
                    .Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture));
                lines.Add(table + "|" + string.Join("|", values));
            }
        }
        return string.Join("\n", lines);
    }

    private static async Task ExecuteAsync(DockhandDatabase database, string sql)
    {
        await using var connection = await database.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<string> HashAsync(string path) => Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(path, Ct)));
}
