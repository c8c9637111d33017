using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Terminal.Tests;

/// <summary>
/// The session registry without an engine (sessions that were never attached start no exec): the per-owner cap, and
/// what two processes on one database see of each other's sessions. Once against SQLite and once against PostgreSQL.
/// </summary>
public abstract class TerminalSessionsTests(PostgresServer server, StoreKind kind) : IAsyncLifetime
{
    private static readonly OwnerId Alice = new(80351110224678912);
    private static readonly OwnerId Bob = new(175928847299117063);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _noEngine = new ServiceCollection()
        .AddDockhandContainerRuntime(new ContainerOptions { DockerHost = new Uri("unix:///tmp/dockhand-no-such-engine.sock") })
        .BuildServiceProvider();
    private readonly List<TerminalSessions> _processes = [];
    private TestDatabase _test = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _test = await TestDatabase.CreateAsync(server, kind, Ct);
        await _test.Open().MigrateAsync([TerminalSchema.Migrations], Ct);
    }

    /// <summary>One Dockhand process's registry on the shared database (its own connection and holder id).</summary>
    private (TerminalSessions Sessions, TerminalSessionStore Store) StartProcess(int maxSessionsPerOwner = 3)
    {
        var store = new TerminalSessionStore(_test.Open(), _time);
        var sessions = new TerminalSessions(_noEngine.GetRequiredService<IContainerRuntime>(), store,
            Options.Create(new TerminalOptions { MaxSessionsPerOwner = maxSessionsPerOwner }), _time, NullLogger<TerminalSessions>.Instance);
        _processes.Add(sessions);
        return (sessions, store);
    }

    private DateTimeOffset InAnHour => _time.GetUtcNow().AddHours(1);

    [Fact]
    public async Task OpenAsync_FourthForOwner_EndsTheOldestWithReplacedSentence()
    {
        var (sessions, _) = StartProcess();
        var first = await sessions.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        var second = await sessions.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        var third = await sessions.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        var bobs = await sessions.OpenAsync(Bob, "def456", "box", InAnHour, Ct);
        Assert.All(new[] { first, second, third, bobs }, s => Assert.Null(s.EndReason));

        var fourth = await sessions.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);

        await AssertReplacedAsync(sessions, first, stillLive: [second, third, fourth, bobs]);
    }

    [Fact]
    public async Task OpenAsync_TwentySimultaneousForOneOwner_LeavesExactlyTheCapLive()
    {
        var (sessions, _) = StartProcess();
        using var start = new ManualResetEventSlim();
        var opens = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait(Ct);
            return await sessions.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        }, Ct)).ToArray();
        start.Set();

        var opened = await Task.WhenAll(opens);

        Assert.Equal(3, opened.Count(s => s.EndReason is null));
        // The survivors are the three newest.
        Assert.Equal(opened.OrderByDescending(s => s.Sequence).Take(3).Select(s => s.Id).Order(), opened.Where(s => s.EndReason is null).Select(s => s.Id).Order());
        await Task.WhenAll(opened.Where(s => s.EndReason is not null).Select(s => s.Ended)).WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task OpenAsync_CapReachedOverTwoProcesses_OldestInTheOtherProcessEndsAtItsHeartbeatAsReplaced()
    {
        var (a, _) = StartProcess();
        var (b, _) = StartProcess();
        var first = await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        _time.Advance(TimeSpan.FromSeconds(1));
        var second = await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        _time.Advance(TimeSpan.FromSeconds(1));
        var third = await b.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        var bobs = await a.OpenAsync(Bob, "def456", "box", InAnHour, Ct);
        await a.HeartbeatAsync(Ct);
        Assert.All(new[] { first, second, third, bobs }, s => Assert.Null(s.EndReason)); // three of Alice's: at the cap, not over
        _time.Advance(TimeSpan.FromSeconds(1));

        var fourth = await b.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        await a.HeartbeatAsync(Ct);

        await AssertReplacedAsync(a, first, stillLive: [second, third, fourth, bobs]);
    }

    /// <summary><paramref name="replaced"/> ended with the cap's sentence and left its process; the others live on.</summary>
    private static async Task AssertReplacedAsync(TerminalSessions holder, TerminalSession replaced, TerminalSession[] stillLive)
    {
        Assert.Equal(TerminalEndReasons.Replaced(3), replaced.EndReason);
        Assert.All(stillLive, s => Assert.Null(s.EndReason));
        await replaced.Ended.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Null(holder.Find(replaced.Id));
    }

    [Fact]
    public async Task OpenAsync_OtherProcessStoppedMarkingItsSessions_TheyDoNotCountTowardTheCap()
    {
        var (a, _) = StartProcess();
        var (b, _) = StartProcess();
        var theirs = new[]
        {
            await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct),
            await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct),
            await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct),
        };
        // A's process stops marking (it hangs or dies): three periods later its rows no longer count as live.
        _time.Advance(3 * TerminalSessionStore.HeartbeatPeriod);

        var mine = await b.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        await a.HeartbeatAsync(Ct);

        Assert.All(theirs, s => Assert.Null(s.EndReason));
        Assert.Null(mine.EndReason);
    }

    [Fact]
    public async Task ContainersInUseAsync_LiveThenEnded_FollowsTheSessions()
    {
        var (sessions, store) = StartProcess();
        var activity = new TerminalActivity(sessions, store);
        var session = await sessions.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);

        Assert.True((await activity.ContainersInUseAsync(Ct)).Contains("abc123"));
        Assert.False((await activity.ContainersInUseAsync(Ct)).Contains("def456"));
        await session.EndAsync("test over");
        Assert.False((await activity.ContainersInUseAsync(Ct)).Contains("abc123"));
    }

    [Fact]
    public async Task ContainersInUseAsync_SessionLiveInOtherProcess_IsTrueUntilItEnds()
    {
        var (a, _) = StartProcess();
        var (b, bStore) = StartProcess();
        var culling = new TerminalActivity(b, bStore);
        var session = await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);

        Assert.True((await culling.ContainersInUseAsync(Ct)).Contains("abc123"));
        await session.EndAsync("test over");
        await session.Ended.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        // The row goes in the background once the session has ended.
        await Eventually.TrueAsync(async () => !(await culling.ContainersInUseAsync(Ct)).Contains("abc123"), "the ended session stops counting as open", Ct, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ContainersInUseAsync_OtherProcessStoppedMarking_NotOpenAfterThreePeriods()
    {
        var (a, _) = StartProcess();
        var (b, bStore) = StartProcess();
        var culling = new TerminalActivity(b, bStore);
        await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);

        _time.Advance(3 * TerminalSessionStore.HeartbeatPeriod - TimeSpan.FromSeconds(1));
        Assert.True((await culling.ContainersInUseAsync(Ct)).Contains("abc123"));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False((await culling.ContainersInUseAsync(Ct)).Contains("abc123")); // A died without a word
        await a.HeartbeatAsync(Ct);
        Assert.True((await culling.ContainersInUseAsync(Ct)).Contains("abc123")); // it was only late
    }

    [Fact]
    public async Task HeartbeatAsync_OtherProcessTookTheSessionOver_EndsItHereAsOpenedElsewhere()
    {
        var (a, _) = StartProcess();
        var (_, bStore) = StartProcess();
        var session = await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);
        var other = await a.OpenAsync(Bob, "def456", "box", InAnHour, Ct);

        var taken = await bStore.TakeOverAsync(session.Id, "abc123", Ct);
        await a.HeartbeatAsync(Ct);

        Assert.Equal(new StoredSession(Alice, "abc123", "dev", session.ExpiresAt), taken);
        Assert.Equal(TerminalEndReasons.OpenedElsewhere, session.EndReason);
        Assert.Null(other.EndReason);
        // Ending it here does not delete the row the other process now holds.
        await session.Ended.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True((await new TerminalActivity(a, new TerminalSessionStore(_test.Open(), _time)).ContainersInUseAsync(Ct)).Contains("abc123"));
    }

    [Fact]
    public async Task TakeOverAsync_ProcessShutDown_SessionCanBeCarriedOnButIsNotOpen()
    {
        var (a, _) = StartProcess();
        var (b, bStore) = StartProcess();
        var session = await a.OpenAsync(Alice, "abc123", "dev", InAnHour, Ct);

        await a.StopAsync(Ct);

        Assert.Equal(TerminalEndReasons.ShuttingDown, session.EndReason);
        Assert.False((await new TerminalActivity(b, bStore).ContainersInUseAsync(Ct)).Contains("abc123"));
        Assert.Equal(new StoredSession(Alice, "abc123", "dev", session.ExpiresAt), await bStore.TakeOverAsync(session.Id, "abc123", Ct));
    }

    [Fact]
    public async Task TakeOverAsync_OtherContainerExpiredOrUnknown_ReturnsNull()
    {
        var (a, _) = StartProcess();
        var (_, bStore) = StartProcess();
        var session = await a.OpenAsync(Alice, "abc123", "dev", _time.GetUtcNow().AddMinutes(15), Ct);

        Assert.Null(await bStore.TakeOverAsync(session.Id, "def456", Ct));
        Assert.Null(await bStore.TakeOverAsync(new string('A', 43), "abc123", Ct));
        _time.Advance(TimeSpan.FromMinutes(15));
        Assert.Null(await bStore.TakeOverAsync(session.Id, "abc123", Ct));
    }

    [Fact]
    public async Task SweepAsync_ExpiredCookies_RemovesTheirRowsOnly()
    {
        var (a, aStore) = StartProcess();
        var shortLived = await a.OpenAsync(Alice, "abc123", "dev", _time.GetUtcNow().AddMinutes(15), Ct);
        var longLived = await a.OpenAsync(Bob, "def456", "box", InAnHour, Ct);
        await a.StopAsync(Ct); // the rows stay after shutdown; only expiry removes them
        _time.Advance(TimeSpan.FromMinutes(15));

        Assert.Equal(1, await aStore.SweepAsync(Ct));
        Assert.Null(await aStore.TakeOverAsync(shortLived.Id, "abc123", Ct));
        Assert.NotNull(await aStore.TakeOverAsync(longLived.Id, "def456", Ct));
    }

    [Fact]
    public void ReplacedSentence_OneOrMany_IsOneSentenceSayingWhatToDo()
    {
        Assert.Equal("This terminal was closed because you opened a newer one (one at a time); run /terminal again to get it back.", TerminalEndReasons.Replaced(1));
        Assert.Equal("This terminal was closed because you opened a newer one (at most 3 at a time); run /terminal again to get it back.", TerminalEndReasons.Replaced(3));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sessions in _processes)
            await sessions.StopAsync(CancellationToken.None);
        await _noEngine.DisposeAsync();
        SqliteConnection.ClearAllPools();
        await _test.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

public sealed class TerminalSessionsOnSqliteTests(PostgresServer server) : TerminalSessionsTests(server, StoreKind.Sqlite);

public sealed class TerminalSessionsOnPostgresTests(PostgresServer server) : TerminalSessionsTests(server, StoreKind.Postgres);
