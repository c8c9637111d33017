using System.Text.Json;
using Dockhand.Discord.Gateway;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayResumeTests
{
    private static string Id(string json) => JsonDocument.Parse(json).RootElement.GetProperty("id").GetString()!;

    private static IReadOnlyList<string> InteractionIds(GatewayHarness h) =>
        [.. h.Handler.Events.Where(e => e.Name == "INTERACTION_CREATE").Select(e => Id(e.Json))];

    [Fact]
    public async Task Resume_EventsMissedWhileDisconnected_ReplayedInOrderWithoutLossOrDuplicates()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync(random: 0.5);
        await h.WaitReadyAsync();
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"1"}""", ct);
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"2"}""", ct);
        await h.WaitForEventAsync("INTERACTION_CREATE", 2);

        // Drop the TCP connection and keep the client out while two more events happen.
        h.Server.RefuseUpgrades = true;
        await h.Server.DropConnectionsAsync(ct);
        await h.WaitUntilAsync(() => h.Server.RefusedUpgrades >= 1);
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"3"}""", ct);
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"4"}""", ct);
        h.Server.RefuseUpgrades = false;

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(0.75)); // backoff after the failed reconnect
        await h.WaitForEventAsync("RESUMED");
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"5"}""", ct);
        await h.WaitForEventAsync("INTERACTION_CREATE", 5);

        Assert.Equal(["1", "2", "3", "4", "5"], InteractionIds(h));
        Assert.Equal(["READY", "INTERACTION_CREATE", "INTERACTION_CREATE", "INTERACTION_CREATE", "INTERACTION_CREATE", "RESUMED", "INTERACTION_CREATE"], h.Handler.Names);
        var resume = Assert.Single(h.Server.ReceivedOp(6));
        Assert.Equal(3, JsonDocument.Parse(resume.Json).RootElement.GetProperty("d").GetProperty("seq").GetInt64());
        Assert.Single(h.Server.ReceivedOp(2));
    }

    [Fact]
    public async Task Resume_ConnectionDroppedWithoutCloseFrame_ResumesOnResumeUrl()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();

        await h.Server.DropConnectionsAsync(ct);

        var resume = await h.Server.WaitForOpAsync(6, cancellationToken: ct);
        await h.WaitForEventAsync("RESUMED");
        Assert.Equal("/resume", resume.Path);
        Assert.Single(h.Server.ReceivedOp(2));
    }

    [Fact]
    public async Task Resume_ResumeUrlRefusedOnce_FallsBackOnceThenUsesResumeUrlAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        h.Server.RefuseNextUpgrades("/resume", 1);

        await h.Server.DropConnectionsAsync(ct);
        await h.Server.WaitUntilAsync(s => s.RefusedUpgrades == 1, cancellationToken: ct);
        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(0.75)); // backoff after the refused resume URL
        var fallback = await h.Server.WaitForOpAsync(6, cancellationToken: ct);
        await h.WaitForEventAsync("RESUMED");
        await h.Server.DropConnectionsAsync(ct);
        var again = await h.Server.WaitForOpAsync(6, 2, cancellationToken: ct);

        Assert.Equal("/", fallback.Path);
        Assert.Equal("/resume", again.Path);
        Assert.Single(h.Server.ReceivedOp(2));
    }

    [Fact]
    public async Task Op7Reconnect_Received_ClosesResumablyAndResumes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"1"}""", ct);

        await h.Server.SendReconnectAsync(ct);

        var resume = await h.Server.WaitForOpAsync(6, cancellationToken: ct);
        await h.WaitForEventAsync("RESUMED");
        Assert.Equal("/resume", resume.Path);
        Assert.Equal("client", h.Server.Connections[0].ClosedBy);
        Assert.NotEqual(1000, h.Server.Connections[0].CloseCode);
        Assert.Single(h.Server.ReceivedOp(2));
        Assert.Equal(["1"], InteractionIds(h));
    }

    [Fact]
    public async Task Op9InvalidSession_Resumable_Resumes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        var session = h.Client.SessionId;

        await h.Server.SendInvalidSessionAsync(resumable: true, ct);

        await h.Server.WaitForOpAsync(6, cancellationToken: ct);
        await h.WaitForEventAsync("RESUMED");
        Assert.Single(h.Server.ReceivedOp(2));
        Assert.Equal(session, h.Client.SessionId);
    }

    [Fact]
    public async Task Op9InvalidSession_NotResumable_WaitsOneToFiveSecondsThenIdentifiesAnew()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync(random: 0.5); // wait = 1 + 4 × 0.5 = 3 s
        await h.WaitReadyAsync();
        var firstSession = h.Client.SessionId;
        await h.AdvanceAsync(TimeSpan.FromSeconds(6)); // clear of the 5 s identify window

        await h.Server.SendInvalidSessionAsync(resumable: false, ct);
        await h.Server.WaitUntilAsync(s => s.Connections[0].ClosedBy is not null, cancellationToken: ct);

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(2_900));
        Assert.True(h.Time.HasPendingTimer(TimeSpan.FromMilliseconds(100)), "the invalid-session wait fired early");
        Assert.Single(h.Server.Connections);
        await h.AdvanceAsync(TimeSpan.FromMilliseconds(200));
        await h.Server.WaitForOpAsync(2, 2, cancellationToken: ct);
        await h.WaitForEventAsync("READY", 2);

        Assert.Empty(h.Server.ReceivedOp(6));
        Assert.NotEqual(firstSession, h.Client.SessionId);
        Assert.Equal(h.Server.CurrentSessionId, h.Client.SessionId);
        Assert.Equal("/", h.Server.Connections[1].Path);
    }
}

public sealed class GatewayRecoveryTests
{
    private sealed class FailingOnceBotInfoSource(Uri url) : IGatewayBotInfoSource
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<GatewayBotInfo> GetGatewayBotInfoAsync(CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _calls) == 1
                ? Task.FromException<GatewayBotInfo>(new HttpRequestException("GET /gateway/bot failed"))
                : Task.FromResult(new GatewayBotInfo(url, 1, 1, 1000, TimeSpan.FromHours(1)));
    }

    [Fact]
    public async Task Resume_SessionExpiredOnServer_GetsOp9FalseAndIdentifiesAnew()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync(random: 0.5);
        await h.WaitReadyAsync();
        var firstSession = h.Client.SessionId;
        await h.AdvanceAsync(TimeSpan.FromSeconds(6));

        h.Server.ExpireSession();
        await h.Server.DropConnectionsAsync(ct);
        await h.Server.WaitForOpAsync(6, cancellationToken: ct);
        await h.Server.WaitUntilAsync(s => s.Connections.Count == 2 && s.Connections[1].ClosedBy is not null, cancellationToken: ct);
        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(3)); // op 9 d:false → 1–5 s (3 s here)

        await h.Server.WaitForOpAsync(2, 2, cancellationToken: ct);
        await h.WaitForEventAsync("READY", 2);
        Assert.NotEqual(firstSession, h.Client.SessionId);
        Assert.Equal(h.Server.CurrentSessionId, h.Client.SessionId);
        Assert.DoesNotContain("RESUMED", h.Handler.Names);
    }

    [Fact]
    public async Task RunAsync_GatewayBotFails_RetriesWithBackoffThenConnects()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new TimerRecordingTimeProvider(new Microsoft.Extensions.Time.Testing.FakeTimeProvider());
        await using var server = new Dockhand.Discord.Testing.Gateway.LoopbackDiscordGateway(new() { Token = "t", TimeProvider = time });
        await server.StartAsync(ct);
        var source = new FailingOnceBotInfoSource(server.Url);
        var handler = new RecordingDispatchHandler();
        var client = new DiscordGatewayClient(
            Microsoft.Extensions.Options.Options.Create(new DiscordOptions { Token = "t" }),
            handler,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            time,
            source,
            new GatewayClientSettings { Random = () => 0.5 });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = client.RunAsync(cts.Token);

        await server.WaitUntilAsync(_ => source.Calls == 1, cancellationToken: ct);
        // The client waits out its backoff (0.75 s) before it retries: no connection until the clock moves.
        await time.WaitForTimerAsync(TimeSpan.FromMilliseconds(750));
        Assert.Empty(server.Connections);
        time.Advance(TimeSpan.FromMilliseconds(750));

        await server.WaitUntilAsync(_ => handler.Names.Contains("READY"), cancellationToken: ct);
        Assert.Equal(2, source.Calls);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }
}
