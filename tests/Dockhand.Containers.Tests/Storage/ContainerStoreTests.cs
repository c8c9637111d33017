using System.Globalization;
using Dockhand.Containers.Storage;
using Dockhand.Terminal;

namespace Dockhand.Containers.Tests.Storage;

/// <summary>The store's rules, each against a real SQLite file and a real PostgreSQL database.</summary>
public sealed class ContainerStoreTests(PostgresServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<StoreKind> Dialects => [StoreKind.Sqlite, StoreKind.Postgres];

    private static OwnerId NewOwner() => new((ulong)Random.Shared.NextInt64(100_000_000_000_000_000, 999_999_999_999_999_999));

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task MigrateAsync_Twice_AppliesEachModuleOnceAndRecordsItsVersion(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        var database = test.Open();

        var first = await database.MigrateAsync([TerminalSchema.Migrations], Ct);
        var second = await database.MigrateAsync([TerminalSchema.Migrations], Ct);

        Assert.Equal(0, first);
        Assert.Equal(DockhandDatabase.LatestVersion, second);
        Assert.Equal(DockhandDatabase.LatestVersion, await database.ReadSchemaVersionAsync("containers", Ct));
        Assert.Equal(TerminalSchema.Migrations.LatestVersion, await database.ReadSchemaVersionAsync("terminal", Ct));
        Assert.Equal(
            [.. Enumerable.Range(1, DockhandDatabase.LatestVersion).Select(v => $"containers:{v}"), .. Enumerable.Range(1, TerminalSchema.Migrations.LatestVersion).Select(v => $"terminal:{v}")],
            await ReadColumnAsync(database, "SELECT module || ':' || CAST(version AS TEXT) FROM schema_migrations ORDER BY module, version"));
        Assert.Equal(["0"], await ReadColumnAsync(database, "SELECT CAST(COUNT(*) AS TEXT) FROM terminal_links"));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task MigrateAsync_ContainersOnly_LeavesTerminalTableToItsModule(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        var database = test.Open();

        await database.MigrateAsync(Ct);
        var before = await ReadColumnAsync(database, TableCountSql(kind, "terminal_links"));
        await database.MigrateAsync([TerminalSchema.Migrations], Ct);
        var after = await ReadColumnAsync(database, TableCountSql(kind, "terminal_links"));

        Assert.Equal(["0"], before);
        Assert.Equal(["1"], after);
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task MigrateAsync_FourProcessesAtOnce_EachMigrationAppliedOnce(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        var databases = Enumerable.Range(0, 4).Select(_ => test.Open()).ToList();

        var befores = await Task.WhenAll(databases.Select(d => d.MigrateAsync([TerminalSchema.Migrations], Ct)));

        Assert.Single(befores, b => b == 0); // exactly one of them found an empty database
        Assert.Equal([(DockhandDatabase.LatestVersion + TerminalSchema.Migrations.LatestVersion).ToString(CultureInfo.InvariantCulture)], await ReadColumnAsync(databases[0], "SELECT CAST(COUNT(*) AS TEXT) FROM schema_migrations"));
        Assert.Equal(["1"], await ReadColumnAsync(databases[0], "SELECT CAST(COUNT(*) AS TEXT) FROM dockhand_instance"));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task StoreMigrateAsync_CalledByHostAndHostedService_RunsOnceAndRemembersANewDatabase(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = new ContainerStore(test.Open(), TimeProvider.System, [TerminalSchema.Migrations]);

        await Task.WhenAll(store.MigrateAsync(Ct), store.MigrateAsync(Ct));
        await store.MigrateAsync(Ct);

        // A second run of the runner would have found the schema there and said "not new".
        Assert.True(store.CreatedNewDatabase);
        Assert.True((await store.CheckAsync(Ct)).Ok);
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task CheckAsync_BeforeMigration_SaysSchemaIsBehind(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = new ContainerStore(test.Open(), TimeProvider.System, [TerminalSchema.Migrations]);

        var health = await store.CheckAsync(Ct);

        Assert.False(health.Ok);
        Assert.Contains("start Dockhand once to migrate", health.Error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task GetInstanceIdAsync_TwoProcesses_SameSixteenHexDigits(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var one = await MigratedStoreAsync(test);
        using var two = new ContainerStore(test.Open(), TimeProvider.System);

        var id = await one.GetInstanceIdAsync(Ct);

        Assert.Matches("^[0-9a-f]{16}$", id);
        Assert.Equal(id, await two.GetInstanceIdAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task TryInsertIntentAsync_OwnerOrNameTaken_RefusesWithTheExistingRow(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = await MigratedStoreAsync(test);
        var alice = NewOwner();

        var inserted = await store.TryInsertIntentAsync(alice, "box", "busybox", "op1", Ct);
        var again = await store.TryInsertIntentAsync(alice, "other", "busybox", "op2", Ct);
        var name = await store.TryInsertIntentAsync(NewOwner(), "box", "busybox", "op3", Ct);

        Assert.IsType<IntentOutcome.Inserted>(inserted);
        var busy = Assert.IsType<IntentOutcome.OwnerBusy>(again);
        Assert.Equal(("box", RowState.Creating, "op1"), (busy.Existing.Name, busy.Existing.State, busy.Existing.OperationId));
        Assert.IsType<IntentOutcome.NameTaken>(name);
    }

    /// <summary>Issue 17 §4's rule at the store: 20 creates for 10 owners from two processes make exactly 10 rows.</summary>
    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task TryInsertIntentAsync_TwentyAtOnceForTenOwnersFromTwoProcesses_ExactlyTenRows(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var first = await MigratedStoreAsync(test);
        using var second = new ContainerStore(test.Open(), TimeProvider.System);
        var owners = Enumerable.Range(0, 10).Select(_ => NewOwner()).ToList();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            (i % 2 == 0 ? first : second).TryInsertIntentAsync(owners[i % 10], $"box-{i % 10}", "busybox", $"op{i}", Ct), Ct)));

        Assert.Equal(10, outcomes.Count(o => o is IntentOutcome.Inserted));
        Assert.Equal(10, outcomes.Count(o => o is IntentOutcome.OwnerBusy));
        Assert.Equal(10, (await first.AllAsync(Ct)).Count);
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task CreateSteps_IntentIdReadyDestroy_RowFollowsEachStep(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = await MigratedStoreAsync(test);
        var owner = NewOwner();

        await store.TryInsertIntentAsync(owner, "box", "busybox", "op1", Ct);
        var pending = await store.FindAsync(owner, Ct);
        Assert.Equal(1, await store.SetContainerIdAsync(owner, "op1", "cid-1", Ct));
        Assert.Equal(1, await store.MarkReadyAsync(owner, "op1", Ct));
        var ready = await store.FindAsync(owner, Ct);
        var marked = await store.MarkDestroyingAsync(owner, "op2", Ct);
        var destroying = await store.FindAsync(owner, Ct);
        Assert.Equal(1, await store.DeleteAsync(owner, "cid-1", Ct));

        Assert.Equal(ContainerStore.PendingIdPrefix + "op1", pending!.ContainerId);
        Assert.Equal(("cid-1", RowState.Ready, (string?)null), (ready!.ContainerId, ready.State, ready.OperationProcess));
        Assert.Equal(RowState.Ready, marked!.State);
        Assert.Equal((RowState.Destroying, "op2"), (destroying!.State, destroying.OperationId));
        Assert.NotNull(destroying.OperationProcess);
        Assert.Null(await store.FindAsync(owner, Ct));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task TryAdoptAsync_OwnerNameOrIdInUse_InsertsOnlyWhenAllFree(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = await MigratedStoreAsync(test);
        var owner = NewOwner();
        var created = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

        Assert.True(await store.TryAdoptAsync(owner, "box", "cid-1", "busybox", created, Ct));
        Assert.False(await store.TryAdoptAsync(owner, "box2", "cid-2", "busybox", created, Ct));
        Assert.False(await store.TryAdoptAsync(NewOwner(), "box", "cid-3", "busybox", created, Ct));
        Assert.False(await store.TryAdoptAsync(NewOwner(), "box4", "cid-1", "busybox", created, Ct));

        var row = await store.FindAsync(owner, Ct);
        Assert.Equal(created, row!.CreatedAt);
        Assert.Single(await store.AllAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task PageAsync_SkipsCreatingRowsAndOrdersByCreation(StoreKind kind)
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        var database = test.Open();
        await database.MigrateAsync(Ct);
        using var store = new ContainerStore(database, clock);
        var owners = Enumerable.Range(0, 5).Select(_ => NewOwner()).ToList();
        for (var i = 0; i < owners.Count; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            await store.TryInsertIntentAsync(owners[i], $"box-{i}", "busybox", $"op{i}", Ct);
            if (i != 2)
                await store.MarkReadyAsync(owners[i], $"op{i}", Ct);
        }

        var (first, total) = await store.PageAsync(0, 3, Ct);
        var (second, _) = await store.PageAsync(1, 3, Ct);

        Assert.Equal(4, total);
        Assert.Equal(["box-0", "box-1", "box-3"], first.Select(r => r.Name));
        Assert.Equal(["box-4"], second.Select(r => r.Name));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task AppendAuditAsync_ThenRead_NewestFirstAndPerOwner(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = await MigratedStoreAsync(test);
        var alice = NewOwner();

        await store.AppendAuditAsync(Actor.Cli("op"), "create", alice, "box", "cid", "created", null, Ct);
        await store.AppendAuditAsync(Actor.System, "destroy", NewOwner(), null, null, "refused", "no container", Ct);
        await store.AppendAuditAsync(Actor.Cli("op"), "destroy", alice, "box", "cid", "destroyed", "home kept", Ct);

        var all = await store.ReadAuditAsync(cancellationToken: Ct);
        var mine = await store.ReadAuditAsync(alice, cancellationToken: Ct);

        Assert.Equal(["destroy", "destroy", "create"], all.Select(e => e.Action));
        Assert.Equal([("destroyed", "home kept"), ("created", (string?)null)], mine.Select(e => (e.Outcome, e.Detail)));
    }

    /// <summary>Liveness of an operation, as another process sees it: alive while the holder runs, dead once it is gone.</summary>
    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task IsOperationAlive_HolderDisposed_LiveThenDead(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        var holder = await MigratedStoreAsync(test);
        using var other = new ContainerStore(test.Open(), TimeProvider.System);
        var owner = NewOwner();
        await holder.TryInsertIntentAsync(owner, "box", "busybox", "op1", Ct);
        var token = (await other.FindAsync(owner, Ct))!.OperationProcess;

        var aliveWhileHeld = other.IsProcessAlive(token);
        var aliveTwice = other.IsProcessAlive(token); // asking must not take the lease away
        holder.Dispose();
        // SQLite's flock goes with the descriptor at once; PostgreSQL ends the session just after the client closes it.
        await Eventually.TrueAsync(() => !other.IsProcessAlive(token), "the other process's operation to end", Ct, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));

        Assert.NotNull(token);
        Assert.True(aliveWhileHeld);
        Assert.True(aliveTwice);
        Assert.False(other.IsProcessAlive(null));
    }

    /// <summary>
    /// PostgreSQL only (the flock lease has no session to lose): the server ends the holder's session (what happens
    /// when its process is killed or its host vanishes and keepalive notices), so others see it dead; the holder takes
    /// its own key back at its next operation.
    /// </summary>
    [Fact]
    public async Task PostgresLease_HolderSessionTerminated_DeadUntilHolderRetakesItsKey()
    {
        await using var test = await TestDatabase.CreateAsync(server, StoreKind.Postgres, Ct);
        using var holder = await MigratedStoreAsync(test);
        using var other = new ContainerStore(test.Open(), TimeProvider.System);
        var owner = NewOwner();
        await holder.TryInsertIntentAsync(owner, "box", "busybox", "op1", Ct);
        var token = (await other.FindAsync(owner, Ct))!.OperationProcess!;
        var key = token["pglock:".Length..];

        var terminated = await ReadColumnAsync(test.Open(), $"""
            SELECT CAST(pg_terminate_backend(pid) AS TEXT) FROM pg_locks
            WHERE locktype = 'advisory' AND classid = CAST({PostgresLease.Class} AS INTEGER)::oid AND objid = CAST({key} AS INTEGER)::oid AND granted
            """);
        await Eventually.TrueAsync(() => !other.IsProcessAlive(token), "the other process's operation to end", Ct, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        await holder.TryInsertIntentAsync(NewOwner(), "box2", "busybox", "op2", Ct); // uses its lease again

        Assert.Equal(["true"], terminated);
        Assert.True(other.IsProcessAlive(token));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task IsOperationAlive_TokenOfAnotherDatabaseKind_IsDead(StoreKind kind)
    {
        await using var test = await TestDatabase.CreateAsync(server, kind, Ct);
        using var store = await MigratedStoreAsync(test);

        // A flock lease on PostgreSQL, or an advisory-lock lease on SQLite: a process of another database.
        var foreign = kind == StoreKind.Postgres ? "lease:" + new string('a', 32) : "pglock:12345";

        Assert.False(store.IsProcessAlive(foreign));
    }

    private static async Task<ContainerStore> MigratedStoreAsync(TestDatabase test)
    {
        var database = test.Open();
        await database.MigrateAsync([TerminalSchema.Migrations], Ct);
        return new ContainerStore(database, TimeProvider.System);
    }

    private static string TableCountSql(StoreKind kind, string table) => kind == StoreKind.Postgres
        ? $"SELECT CAST(COUNT(*) AS TEXT) FROM pg_tables WHERE tablename = '{table}'"
        : $"SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = '{table}'";

    internal static async Task<List<string>> ReadColumnAsync(DockhandDatabase database, string sql)
    {
        await using var connection = await database.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
            values.Add(reader.IsDBNull(0) ? "NULL" : Convert.ToString(reader.GetValue(0), CultureInfo.InvariantCulture)!);
        return values;
    }
}
