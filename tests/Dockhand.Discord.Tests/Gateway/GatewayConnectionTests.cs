using System.Text.Json;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayConnectionTests
{
    [Fact]
    public async Task RunAsync_Connect_IdentifiesWithTokenIntentsPropertiesAndUserAgent()
    {
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();

        var identify = Assert.Single(h.Server.ReceivedOp(2));
        using var doc = JsonDocument.Parse(identify.Json);
        var d = doc.RootElement.GetProperty("d");
        Assert.Equal(GatewayHarness.Token, d.GetProperty("token").GetString());
        Assert.Equal(0, d.GetProperty("intents").GetInt32());
        var properties = d.GetProperty("properties");
        Assert.False(string.IsNullOrEmpty(properties.GetProperty("os").GetString()));
        Assert.Equal("dockhand", properties.GetProperty("browser").GetString());
        Assert.Equal("dockhand", properties.GetProperty("device").GetString());

        var connection = Assert.Single(h.Server.Connections);
        Assert.StartsWith("DiscordBot (", connection.UserAgent);
        Assert.Equal("?v=10&encoding=json", connection.Query);
        Assert.Equal("/", connection.Path);
    }

    [Fact]
    public async Task RunAsync_Ready_KeepsSessionResumeUrlAndApplicationId()
    {
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();

        Assert.Equal(h.Server.CurrentSessionId, h.Client.SessionId);
        Assert.Equal(Snowflake.ParseOrNull(h.Server.Options.ApplicationId), h.Client.ApplicationId);
        Assert.Equal(h.Client.ApplicationId, h.ApplicationIds.Known);
        Assert.Equal(1, h.Client.LastSequence);
        Assert.Equal(["READY"], h.Handler.Names);
    }

    [Fact]
    public async Task RunAsync_InteractionCreate_ReachesDispatchHandlerInOrder()
    {
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();

        for (var i = 1; i <= 5; i++)
            await h.Server.DispatchAsync("INTERACTION_CREATE", $$"""{"id":"{{i}}","type":2,"token":"t{{i}}"}""", TestContext.Current.CancellationToken);
        await h.WaitForEventAsync("INTERACTION_CREATE", 5);

        var ids = h.Handler.Events.Where(e => e.Name == "INTERACTION_CREATE")
            .Select(e => JsonDocument.Parse(e.Json).RootElement.GetProperty("id").GetString()).ToList();
        Assert.Equal(["1", "2", "3", "4", "5"], ids);
        Assert.Equal(6, h.Client.LastSequence);
    }

    [Fact]
    public async Task Heartbeat_AfterHello_FirstAfterIntervalTimesJitterThenEveryInterval()
    {
        await using var h = await GatewayHarness.StartAsync(heartbeatIntervalMs: 10_000, random: 0.5);
        await h.WaitReadyAsync();
        var start = h.Time.GetUtcNow();

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(4_999));
        Assert.True(h.Time.HasPendingTimer(TimeSpan.FromMilliseconds(1)), "the first heartbeat fired early");
        Assert.Empty(h.Server.ReceivedOp(1));

        await h.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        var first = await h.Server.WaitForOpAsync(1, 1, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(TimeSpan.FromSeconds(5), first.ReceivedAt - start);
        Assert.Equal("""{"op":1,"d":1}""", first.Json);
        await h.WaitHeartbeatAckReadAsync(1);

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(9_999));
        Assert.True(h.Time.HasPendingTimer(TimeSpan.FromMilliseconds(1)), "the second heartbeat fired early");
        Assert.Single(h.Server.ReceivedOp(1));
        await h.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        var second = await h.Server.WaitForOpAsync(1, 2, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(TimeSpan.FromSeconds(10), second.ReceivedAt - first.ReceivedAt);
        await h.WaitHeartbeatAckReadAsync(2);

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(10));
        await h.Server.WaitForOpAsync(1, 3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Single(h.Server.Connections); // ACKed every time: no reconnect
    }

    [Fact]
    public async Task Heartbeat_ServerSendsOp1_ClientBeatsAtOnceWithLastSequence()
    {
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"9"}""", TestContext.Current.CancellationToken);
        await h.WaitForEventAsync("INTERACTION_CREATE");

        await h.Server.RequestHeartbeatAsync(TestContext.Current.CancellationToken);

        var beat = await h.Server.WaitForOpAsync(1, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal("""{"op":1,"d":2}""", beat.Json);
    }

    [Fact]
    public async Task Heartbeat_NoAckBeforeNextBeat_ClosesNon1000AndResumesOnResumeUrl()
    {
        await using var h = await GatewayHarness.StartAsync(heartbeatIntervalMs: 10_000, random: 0.5);
        await h.WaitReadyAsync();
        var sessionId = h.Client.SessionId;
        h.Server.AckHeartbeats = false;

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(5));
        await h.Server.WaitForOpAsync(1, cancellationToken: TestContext.Current.CancellationToken);
        h.Server.AckHeartbeats = true; // the next connection is healthy

        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(10)); // next beat due, no ACK came: zombie
        var resume = await h.Server.WaitForOpAsync(6, cancellationToken: TestContext.Current.CancellationToken);
        await h.WaitForEventAsync("RESUMED");

        var first = h.Server.Connections[0];
        Assert.Equal("client", first.ClosedBy);
        Assert.NotNull(first.CloseCode);
        Assert.NotEqual(1000, first.CloseCode);
        Assert.NotEqual(1001, first.CloseCode);
        Assert.Equal("/resume", resume.Path);
        using var doc = JsonDocument.Parse(resume.Json);
        Assert.Equal(sessionId, doc.RootElement.GetProperty("d").GetProperty("session_id").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("d").GetProperty("seq").GetInt64());
        Assert.Single(h.Server.ReceivedOp(2)); // resumed, not re-identified
    }
}

public sealed class GatewayDispatchTests
{
    private sealed class ThrowingOnceHandler(RecordingDispatchHandler inner) : Dockhand.Discord.Gateway.IGatewayDispatchHandler
    {
        private int _thrown;

        public ValueTask HandleDispatchAsync(string eventName, JsonElement data, CancellationToken cancellationToken)
        {
            if (eventName == "INTERACTION_CREATE" && Interlocked.Exchange(ref _thrown, 1) == 0)
                throw new InvalidOperationException("handler bug");
            return inner.HandleDispatchAsync(eventName, data, cancellationToken);
        }
    }

    [Fact]
    public async Task Receive_FragmentedLargeMessages_ReassembledIntact()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        h.Server.FragmentSize = 7;
        await h.WaitReadyAsync();
        var blob = new string('z', 200_000);

        await h.Server.DispatchAsync("INTERACTION_CREATE", $$"""{"id":"1","blob":"{{blob}}"}""", ct);
        await h.Server.DispatchAsync("INTERACTION_CREATE", """{"id":"2"}""", ct);
        await h.WaitForEventAsync("INTERACTION_CREATE", 2);

        var events = h.Handler.Events.Where(e => e.Name == "INTERACTION_CREATE").ToList();
        Assert.Equal(blob, JsonDocument.Parse(events[0].Json).RootElement.GetProperty("blob").GetString());
        Assert.Equal("2", JsonDocument.Parse(events[1].Json).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Dispatch_HandlerThrows_LaterEventsStillDelivered()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var server = new Dockhand.Discord.Testing.Gateway.LoopbackDiscordGateway(new() { Token = "t", TimeProvider = time });
        await server.StartAsync(ct);
        var recorder = new RecordingDispatchHandler();
        var client = new Dockhand.Discord.Gateway.DiscordGatewayClient(
            Microsoft.Extensions.Options.Options.Create(new DiscordOptions { Token = "t", GatewayUrl = server.Url }),
            new ThrowingOnceHandler(recorder),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Dockhand.Discord.Gateway.DiscordGatewayClient>.Instance,
            time);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = client.RunAsync(cts.Token);
        await server.WaitUntilAsync(_ => recorder.Names.Contains("READY"), cancellationToken: ct);

        await server.DispatchAsync("INTERACTION_CREATE", """{"id":"1"}""", ct);
        await server.DispatchAsync("INTERACTION_CREATE", """{"id":"2"}""", ct);
        await server.WaitUntilAsync(_ => recorder.Names.Count == 2, cancellationToken: ct);

        Assert.Equal("""{"id":"2"}""", recorder.Events[1].Json);
        Assert.True(client.IsConnected);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }
}
