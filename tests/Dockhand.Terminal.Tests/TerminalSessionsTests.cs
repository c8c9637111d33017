using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Terminal.Tests;

/// <summary>The per-owner session cap, without an engine: sessions that were never attached start no exec.</summary>
public sealed class TerminalSessionsTests : IAsyncDisposable
{
    private static readonly OwnerId Alice = new(80351110224678912);
    private static readonly OwnerId Bob = new(175928847299117063);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _noEngine = new ServiceCollection()
        .AddDockhandContainerRuntime(new ContainerOptions { DockerHost = new Uri("unix:///tmp/dockhand-no-such-engine.sock") })
        .BuildServiceProvider();
    private readonly TerminalSessions _sessions;

    public TerminalSessionsTests()
        => _sessions = new TerminalSessions(_noEngine.GetRequiredService<IContainerRuntime>(), Options.Create(new TerminalOptions { MaxSessionsPerOwner = 3 }), _time, NullLogger<TerminalSessions>.Instance);

    [Fact]
    public async Task Create_FourthForOwner_EndsTheOldestWithReplacedSentence()
    {
        var expires = _time.GetUtcNow().AddHours(1);
        var first = _sessions.Create(Alice, "abc123", "dev", expires);
        var second = _sessions.Create(Alice, "abc123", "dev", expires);
        var third = _sessions.Create(Alice, "abc123", "dev", expires);
        var bobs = _sessions.Create(Bob, "def456", "box", expires);
        Assert.All(new[] { first, second, third, bobs }, s => Assert.Null(s.EndReason));

        var fourth = _sessions.Create(Alice, "abc123", "dev", expires);

        Assert.Equal(TerminalEndReasons.Replaced(3), first.EndReason);
        Assert.All(new[] { second, third, fourth, bobs }, s => Assert.Null(s.EndReason));
        await first.Ended.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Null(_sessions.Find(first.Id));
    }

    [Fact]
    public async Task Create_TwentySimultaneousForOneOwner_LeavesExactlyTheCapLive()
    {
        var expires = _time.GetUtcNow().AddHours(1);
        using var start = new ManualResetEventSlim();
        var creates = Enumerable.Range(0, 20).Select(_ => Task.Run(() =>
        {
            start.Wait(TestContext.Current.CancellationToken);
            return _sessions.Create(Alice, "abc123", "dev", expires);
        }, TestContext.Current.CancellationToken)).ToArray();
        start.Set();

        var created = await Task.WhenAll(creates);

        Assert.Equal(3, created.Count(s => s.EndReason is null));
        // The survivors are the three newest.
        Assert.Equal(created.OrderByDescending(s => s.Sequence).Take(3).Select(s => s.Id).Order(), created.Where(s => s.EndReason is null).Select(s => s.Id).Order());
        await Task.WhenAll(created.Where(s => s.EndReason is not null).Select(s => s.Ended)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void ReplacedSentence_OneOrMany_IsOneSentenceSayingWhatToDo()
    {
        Assert.Equal("This terminal was closed because you opened a newer one (one at a time); run /terminal again to get it back.", TerminalEndReasons.Replaced(1));
        Assert.Equal("This terminal was closed because you opened a newer one (at most 3 at a time); run /terminal again to get it back.", TerminalEndReasons.Replaced(3));
    }

    public async ValueTask DisposeAsync()
    {
        await _sessions.StopAsync(CancellationToken.None);
        await _noEngine.DisposeAsync();
    }
}
