using System.Text.Json;
using Dockhand.Discord.Gateway;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayLimitsTests
{
    private static JsonElement Presence(string status = "online") =>
        JsonDocument.Parse($$"""{"since":null,"activities":[],"status":"{{status}}","afk":false}""").RootElement.Clone();

    [Fact]
    public async Task SendAsync_Flood_ServerNeverSeesMoreThan120In60SecondsAndHeartbeatRoomRemains()
    {
        var ct = TestContext.Current.CancellationToken;
        // Long heartbeat interval: fake time jumps by whole minutes here.
        await using var h = await GatewayHarness.StartAsync(heartbeatIntervalMs: 600_000);
        await h.WaitReadyAsync();

        var sends = Enumerable.Range(0, 300).Select(_ => h.Client.SendAsync(3, Presence(), ct)).ToList();

        // First window: 110 ordinary slots, one already used by Identify.
        // Once the send loop has armed its 60 s wait for the window, nothing more can go out until the clock moves.
        await h.WaitUntilAsync(() => h.Server.ReceivedOp(3).Count >= 109);
        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(60));
        Assert.True(109 == h.Server.ReceivedOp(3).Count, $"first window: {h.Server.ReceivedOp(3).Count} ordinary sends");

        // A heartbeat still goes out at once while ordinary sends are held back.
        await h.Server.RequestHeartbeatAsync(ct);
        await h.Server.WaitForOpAsync(1, cancellationToken: ct);

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(60));
        await h.WaitUntilAsync(() => h.Server.ReceivedOp(3).Count >= 219);
        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(60));
        Assert.True(219 == h.Server.ReceivedOp(3).Count, $"second window: {h.Server.ReceivedOp(3).Count} ordinary sends");

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(60));
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(10), ct);
        // A send completes once written to the socket; the server records it a moment later.
        await h.WaitUntilAsync(() => h.Server.ReceivedOp(3).Count >= 300);
        Assert.Equal(300, h.Server.ReceivedOp(3).Count);

        var frames = h.Server.Received;
        foreach (var frame in frames)
        {
            var inWindow = frames.Count(f => f.ReceivedAt > frame.ReceivedAt - TimeSpan.FromSeconds(60) && f.ReceivedAt <= frame.ReceivedAt);
            Assert.True(inWindow <= 120, $"{inWindow} events in the 60 s before {frame.ReceivedAt:O}");
        }

        var connection = Assert.Single(h.Server.Connections); // never closed with 4008
        Assert.True(connection.CloseCode is null, $"closed with {connection.CloseCode} by {connection.ClosedBy}");
    }

    [Fact]
    public async Task SendAsync_PayloadAbove4096Bytes_ThrowsAndSendsNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        var big = JsonDocument.Parse($$"""{"guild_id":"1","query":"{{new string('a', 4100)}}","limit":0}""").RootElement.Clone();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => h.Client.SendAsync(8, big, ct));

        Assert.Contains("4096", ex.Message);
        // Frames go out in order: once a later send has arrived, the refused one can no longer follow.
        // (A refused frame that went out anyway makes the server close 4002, so the later one never comes.)
        _ = h.Client.SendAsync(3, Presence(), ct);
        await h.Server.WaitUntilAsync(s => s.ReceivedOp(3).Count > 0 || s.Connections[0].CloseCode is not null, cancellationToken: ct);
        Assert.Empty(h.Server.ReceivedOp(8));
        Assert.Single(h.Server.ReceivedOp(3));
        Assert.True(h.Client.IsConnected);
    }

    [Fact]
    public async Task SendAsync_PayloadOfExactly4096Bytes_IsSentAndAccepted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        var envelope = """{"op":8,"d":{"guild_id":"1","query":"","limit":0}}""".Length;
        var data = JsonDocument.Parse($$"""{"guild_id":"1","query":"{{new string('a', 4096 - envelope)}}","limit":0}""").RootElement.Clone();

        await h.Client.SendAsync(8, data, ct).WaitAsync(TimeSpan.FromSeconds(10), ct);

        var frame = await h.Server.WaitForOpAsync(8, cancellationToken: ct);
        Assert.Equal(4096, frame.Bytes);
        // The server reads frames in order: once it has answered a later heartbeat, it has judged the 4096-byte one.
        await h.Server.RequestHeartbeatAsync(ct);
        await h.Server.WaitForOpAsync(1, cancellationToken: ct);
        var connection = Assert.Single(h.Server.Connections);
        Assert.Null(connection.CloseCode);
    }

    [Fact]
    public async Task SendAsync_ClientOwnedOpcode_Throws()
    {
        await using var h = await GatewayHarness.StartAsync(run: false);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => h.Client.SendAsync(2, Presence(), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => h.Client.SendAsync(1, Presence(), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Reconnect_RepeatedFailures_BackOffExponentiallyWithJitter()
    {
        var ct = TestContext.Current.CancellationToken;
        // random 0.5 → jitter factor 0.75: delays 0.75 s, 1.5 s, 3 s.
        await using var h = await GatewayHarness.StartAsync(refuseUpgrades: true, random: 0.5);
        await h.WaitUntilAsync(() => h.Server.RefusedUpgrades == 1);

        foreach (var (delayMs, attempts) in new[] { (750, 2), (1_500, 3), (3_000, 4) })
        {
            await h.AdvanceWhenArmedAsync(TimeSpan.FromMilliseconds(delayMs), TimeSpan.FromMilliseconds(delayMs - 10));
            Assert.True(h.Time.HasPendingTimer(TimeSpan.FromMilliseconds(10)), "the backoff fired early");
            Assert.Equal(attempts - 1, h.Server.RefusedUpgrades);
            await h.AdvanceAsync(TimeSpan.FromMilliseconds(10));
            await h.WaitUntilAsync(() => h.Server.RefusedUpgrades == attempts);
        }

        h.Server.RefuseUpgrades = false;
        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(6));
        await h.WaitReadyAsync();
    }

    [Fact]
    public async Task Identify_RepeatedNewSessions_SpacedByMaxConcurrencyWindow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync(maxConcurrency: 1);
        await h.WaitReadyAsync();

        await h.Server.CloseAsync(4009, cancellationToken: ct);
        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(4.9));
        Assert.True(h.Time.HasPendingTimer(TimeSpan.FromSeconds(0.1)), "the identify wait fired early");
        Assert.Single(h.Server.ReceivedOp(2));
        await h.AdvanceAsync(TimeSpan.FromSeconds(0.1));
        await h.Server.WaitForOpAsync(2, 2, cancellationToken: ct);
        await h.WaitForEventAsync("READY", 2);

        var identifies = h.Server.ReceivedOp(2);
        Assert.Equal(TimeSpan.FromSeconds(5), identifies[1].ReceivedAt - identifies[0].ReceivedAt);
        // Op 9 (Invalid Session) is what the server answers an Identify over max_concurrency with.
        Assert.Empty(h.Server.SentOp(9));
    }

    [Fact]
    public async Task Identify_NoSessionStartsRemaining_WaitsForResetAfter()
    {
        await using var h = await GatewayHarness.StartAsync(remainingSessionStarts: 0, resetAfter: TimeSpan.FromSeconds(30));
        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(29.9));
        Assert.Empty(h.Server.Connections);
        Assert.True(h.Time.HasPendingTimer(TimeSpan.FromSeconds(0.1)), "the session-start wait fired early");
        await h.AdvanceAsync(TimeSpan.FromSeconds(0.1));
        await h.WaitReadyAsync();
        Assert.Single(h.Server.ReceivedOp(2));
    }
}
