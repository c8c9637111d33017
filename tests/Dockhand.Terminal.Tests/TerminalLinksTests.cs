using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

[assembly: AssemblyFixture(typeof(PostgresServer))]

namespace Dockhand.Terminal.Tests;

/// <summary>The link store's tests, once against SQLite and once against PostgreSQL (the two sealed classes below).</summary>
public abstract class TerminalLinksTests(PostgresServer server, StoreKind kind) : IAsyncLifetime
{
    private static readonly OwnerId Alice = new(80351110224678912);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
    private TestDatabase _test = null!;
    private DockhandDatabase _database = null!;
    private TerminalLinks _links = null!;

    public async ValueTask InitializeAsync()
    {
        _test = await TestDatabase.CreateAsync(server, kind, TestContext.Current.CancellationToken);
        _database = _test.Open();
        await _database.MigrateAsync([TerminalSchema.Migrations], TestContext.Current.CancellationToken);
        _links = new TerminalLinks(_database, Options.Create(new TerminalOptions { ServiceUrl = new Uri("https://dockhand.example.org/"), LinksPerMinute = 5 }), _time);
    }

    [Fact]
    public async Task ConsumeAsync_TenAtOnceFromTwoProcesses_ExactlyOneWins()
    {
        var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        var other = new TerminalLinks(_test.Open(), Options.Create(new TerminalOptions { ServiceUrl = new Uri("https://dockhand.example.org/") }), _time);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(() =>
            (i % 2 == 0 ? _links : other).ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken), TestContext.Current.CancellationToken)));

        Assert.Single(results, r => r is TokenCheck.Valid);
        Assert.Equal(9, results.Count(r => r is TokenCheck.Used));
    }

    [Fact]
    public async Task TryIssueWithinLimitAsync_TwentyAtOnceFromTwoProcesses_IssuesExactlyTheLimit()
    {
        var other = new TerminalLinks(_test.Open(), Options.Create(new TerminalOptions { ServiceUrl = new Uri("https://dockhand.example.org/"), LinksPerMinute = 5 }), _time);

        var links = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            (i % 2 == 0 ? _links : other).TryIssueWithinLimitAsync(Alice, "abc123", TestContext.Current.CancellationToken), TestContext.Current.CancellationToken)));

        Assert.Equal(5, links.Count(l => l is not null));
    }

    private static string TokenOf(TerminalLink link) => link.Url.Query["?token=".Length..];

    [Fact]
    public async Task IssueAsync_NewLink_HasSeedUrlShapeAndStoresOnlyTheHash()
    {
        var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);

        Assert.Equal("https", link.Url.Scheme);
        Assert.Equal("/terminal/abc123", link.Url.AbsolutePath);
        var token = TokenOf(link);
        Assert.True(TerminalLinks.IsWellFormed(token));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromHours(1), link.ExpiresAt);

        await using var connection = await _database.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT token_hash || '|' || owner_id || '|' || container_id FROM terminal_links";
        var row = (string)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal($"{TerminalLinks.Hash(token)}|80351110224678912|abc123", row);
        Assert.DoesNotContain(token, row, StringComparison.Ordinal);
        Assert.Equal(64, TerminalLinks.Hash(token).Length);
    }

    [Fact]
    public async Task IssueAsync_TwoLinks_HaveDifferentTokens()
    {
        var first = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        var second = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        Assert.NotEqual(TokenOf(first), TokenOf(second));
    }

    [Fact]
    public async Task ConsumeAsync_FirstUse_ReturnsOwnerAndExpiry()
    {
        var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);

        var result = await _links.ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken);

        var valid = Assert.IsType<TokenCheck.Valid>(result);
        Assert.Equal(Alice, valid.Owner);
        Assert.Equal(link.ExpiresAt, valid.ExpiresAt);
    }

    [Fact]
    public async Task ConsumeAsync_Reuse_ReturnsUsed()
    {
        var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        Assert.IsType<TokenCheck.Valid>(await _links.ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken));

        Assert.IsType<TokenCheck.Used>(await _links.ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken));
        Assert.IsType<TokenCheck.Used>(await _links.CheckAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ConsumeAsync_AfterTimeToLive_ReturnsExpired()
    {
        var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.IsType<TokenCheck.Valid>(await _links.CheckAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken));

        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.IsType<TokenCheck.Expired>(await _links.ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ConsumeAsync_TokenForAnotherContainer_ReturnsOtherContainerAndLeavesTokenUsable()
    {
        var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);

        Assert.IsType<TokenCheck.OtherContainer>(await _links.ConsumeAsync(TokenOf(link), "def456", TestContext.Current.CancellationToken));
        Assert.IsType<TokenCheck.Valid>(await _links.ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")]
    [InlineData("' OR 1=1 --")]
    public async Task ConsumeAsync_UnknownOrGarbage_ReturnsUnknown(string? token)
    {
        await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        Assert.IsType<TokenCheck.Unknown>(await _links.ConsumeAsync(token, "abc123", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ConsumeAsync_TwoSimultaneousUses_ExactlyOneWins()
    {
        for (var round = 0; round < 25; round++)
        {
            var link = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
            using var start = new Barrier(2);
            var attempts = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                start.SignalAndWait(TestContext.Current.CancellationToken);
                return await _links.ConsumeAsync(TokenOf(link), "abc123", TestContext.Current.CancellationToken);
            }, TestContext.Current.CancellationToken)).ToArray();
            var results = await Task.WhenAll(attempts);

            Assert.Single(results, r => r is TokenCheck.Valid);
            Assert.Single(results, r => r is TokenCheck.Used);
        }
    }

    [Fact]
    public async Task TryIssueWithinLimit_SixthInAMinute_IsRefusedUntilTheFirstAgesOut()
    {
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 5; i++)
        {
            Assert.NotNull(await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct));
            _time.Advance(TimeSpan.FromSeconds(10)); // links at 0, 10, 20, 30, 40 s
        }

        // At 50 s: the sixth is refused, and the first (0 s) ages out at 60 s.
        Assert.Null(await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct));
        Assert.Equal(TimeSpan.FromSeconds(10), await _links.RetryAfterAsync(Alice, ct));
        _time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(10)); // a hair short of 60 s
        Assert.Null(await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct));
        _time.Advance(TimeSpan.FromTicks(10));
        Assert.Null(await _links.RetryAfterAsync(Alice, ct));
        Assert.NotNull(await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct));
        // ...and that one refills the window: the next waits for the 10 s link.
        Assert.Equal(TimeSpan.FromSeconds(10), await _links.RetryAfterAsync(Alice, ct));
    }

    [Fact]
    public async Task TryIssueWithinLimit_OwnerAtLimit_DoesNotLimitAnotherOwner()
    {
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 5; i++)
            Assert.NotNull(await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct));

        Assert.Null(await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct));
        Assert.NotNull(await _links.TryIssueWithinLimitAsync(new OwnerId(175928847299117063), "def456", ct));
    }

    [Fact]
    public async Task TryIssueWithinLimit_TwentySimultaneous_ExactlyTheLimitWin()
    {
        var ct = TestContext.Current.CancellationToken;
        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait(ct);
            return await _links.TryIssueWithinLimitAsync(Alice, "abc123", ct);
        }, ct)).ToArray();
        start.Set();

        var results = await Task.WhenAll(attempts);

        Assert.Equal(5, results.Count(r => r is not null));
    }

    [Fact]
    public void RateLimited_Sentence_SaysWhenToTryAgainInWholeSeconds()
    {
        var limited = new TerminalLinkResult.RateLimited(5, TimeSpan.FromSeconds(41.2));

        Assert.Equal("You have had 5 terminal links in the last minute, the most allowed; try again in 42 seconds.", limited.Sentence);
        Assert.Equal(1, new TerminalLinkResult.RateLimited(5, TimeSpan.Zero).RetryAfterSeconds);
    }

    [Fact]
    public async Task SweepAsync_RowsExpiredBeyondRetention_AreDeletedAndOthersKept()
    {
        var old = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromMinutes(30));
        var fresh = await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromMinutes(31) + TimeSpan.FromDays(1));

        var swept = await _links.SweepAsync(TestContext.Current.CancellationToken);

        Assert.Equal(1, swept);
        Assert.IsType<TokenCheck.Unknown>(await _links.CheckAsync(TokenOf(old), "abc123", TestContext.Current.CancellationToken));
        Assert.IsType<TokenCheck.Expired>(await _links.CheckAsync(TokenOf(fresh), "abc123", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Sweeper_TimerTicks_DeletesExpiredRows()
    {
        await _links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        var options = Options.Create(new TerminalOptions { SweepInterval = TimeSpan.FromMinutes(10) });
        using var sweeper = new TerminalLinkSweeper(_links, new TerminalSessionStore(_database, _time), options, _time, NullLogger<TerminalLinkSweeper>.Instance);
        await sweeper.StartAsync(TestContext.Current.CancellationToken);

        _time.Advance(TimeSpan.FromMinutes(70) + TimeSpan.FromDays(1));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long count;
        do
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
            await using var connection = await _database.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM terminal_links";
            count = (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        }
        while (count > 0 && DateTime.UtcNow < deadline);
        await sweeper.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, count);
    }

    public async ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        await _test.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

public sealed class TerminalLinksOnSqliteTests(PostgresServer server) : TerminalLinksTests(server, StoreKind.Sqlite);

public sealed class TerminalLinksOnPostgresTests(PostgresServer server) : TerminalLinksTests(server, StoreKind.Postgres);
