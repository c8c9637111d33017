using Dockhand.Discord.Gateway;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayCloseCodeTests
{
    [Theory]
    [InlineData(4000)]
    [InlineData(4001)]
    [InlineData(4002)]
    [InlineData(4003)]
    [InlineData(4005)]
    [InlineData(4008)]
    [InlineData(1001)]
    public async Task CloseCode_Resumable_ReconnectsAndResumes(int code)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();

        await h.Server.CloseAsync(code, cancellationToken: ct);

        var resume = await h.Server.WaitForOpAsync(6, cancellationToken: ct);
        await h.WaitForEventAsync("RESUMED");
        Assert.Equal("/resume", resume.Path);
        Assert.Single(h.Server.ReceivedOp(2));
        Assert.Equal(code, h.Server.Connections[0].CloseCode);
    }

    [Theory]
    [InlineData(4007)]
    [InlineData(4009)]
    public async Task CloseCode_NewSession_IdentifiesAgainAfterIdentifyWindow(int code)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();
        var firstSession = h.Client.SessionId;

        await h.Server.CloseAsync(code, cancellationToken: ct);
        await h.AdvanceWhenArmedAsync(TimeSpan.FromSeconds(5)); // the identify window

        var second = await h.Server.WaitForOpAsync(2, 2, cancellationToken: ct);
        await h.WaitForEventAsync("READY", 2);
        Assert.Empty(h.Server.ReceivedOp(6));
        Assert.Equal("/", second.Path);
        Assert.NotEqual(firstSession, h.Client.SessionId);
        Assert.True(second.ReceivedAt - h.Server.ReceivedOp(2)[0].ReceivedAt >= TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(4004, "token")]
    [InlineData(4010, "shard")]
    [InlineData(4011, "sharding is required")]
    [InlineData(4012, "API version")]
    [InlineData(4013, "invalid intents")]
    [InlineData(4014, "privileged intents")]
    public async Task CloseCode_Fatal_RunAsyncThrowsNamingTheCause(int code, string cause)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = await GatewayHarness.StartAsync();
        await h.WaitReadyAsync();

        await h.Server.CloseAsync(code, cancellationToken: ct);

        var ex = await Assert.ThrowsAsync<GatewayFatalException>(() => h.Run.WaitAsync(TimeSpan.FromSeconds(10), ct));
        Assert.Equal(code, ex.CloseCode);
        Assert.Contains(cause, ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(code.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
        Assert.Single(h.Server.Connections); // no reconnect after a fatal code
    }

    [Fact]
    public async Task Identify_WrongToken_ServerCloses4004AndClientStopsNamingTheToken()
    {
        await using var h = await GatewayHarness.StartAsync(token: "not-the-token");

        var ex = await Assert.ThrowsAsync<GatewayFatalException>(() => h.Run.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));

        Assert.Equal(4004, ex.CloseCode);
        Assert.Contains("DISCORD_TOKEN", ex.Message);
        Assert.DoesNotContain("not-the-token", ex.Message);
    }

    [Fact]
    public async Task RunAsync_GatewayBotAnswers401_StopsWithoutRetryingNamingTheToken()
    {
        // Without DISCORD_GATEWAY_URL the URL comes from GET /gateway/bot, which Discord answers 401 for a bad token.
        var ct = TestContext.Current.CancellationToken;
        await using var rest = await Support.RestFixture.StartAsync(clientToken: "not-the-token", cancellationToken: ct);
        var client = new DiscordGatewayClient(
            Microsoft.Extensions.Options.Options.Create(new DiscordOptions { Token = "not-the-token" }),
            new RecordingDispatchHandler(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            new Microsoft.Extensions.Time.Testing.FakeTimeProvider(), rest.Client, new GatewayClientSettings());

        var ex = await Assert.ThrowsAsync<GatewayFatalException>(() => client.RunAsync(ct).WaitAsync(TimeSpan.FromSeconds(10), ct));

        Assert.Equal("Discord answered 401 to GET /gateway/bot (authentication failed): " + GatewayCloseCodes.InvalidTokenAdvice, ex.Message);
        Assert.Equal([401], rest.Server.RequestsTo(Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes.GatewayBot).Select(r => r.Status));
    }

    [Fact]
    public async Task RunAsync_HandshakeNeverAnswered_ConnectTimesOutAfter30Seconds()
    {
        // A peer that accepts TCP and then says nothing, like a stalled TLS handshake.
        var ct = TestContext.Current.CancellationToken;
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var logger = new FakeLogger<DiscordGatewayClient>();
        var client = new DiscordGatewayClient(
            Microsoft.Extensions.Options.Options.Create(new DiscordOptions { Token = "t", GatewayUrl = new Uri($"ws://127.0.0.1:{port}") }),
            new RecordingDispatchHandler(), logger, time, null, new GatewayClientSettings());
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = client.RunAsync(cts.Token);

        // The client arms its timer before it connects, so once the connection is accepted the clock can move.
        using var stalled = await listener.AcceptTcpClientAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), e => e.Id.Id == 1122);
        time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => logger.Collector.GetSnapshot().Any(e => e.Id.Id == 1122), "the connect-timeout log (1122)", ct);

        Assert.Contains(logger.Collector.GetSnapshot(), e => e.Id.Id == 1122 && e.Message.Contains("30 s", StringComparison.Ordinal));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10), ct));
    }

    [Fact]
    public async Task CloseBeforeReady_Resumable_LogsTheIdentifyThatReallyFollows()
    {
        // 4000 is "resumable", but with no READY yet there is no session to resume: the log must say identify.
        var ct = TestContext.Current.CancellationToken;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var server = new Dockhand.Discord.Testing.Gateway.LoopbackDiscordGateway(new() { Token = "t", TimeProvider = time }) { CloseAfterHello = 4000 };
        await server.StartAsync(ct);
        var logger = new FakeLogger<DiscordGatewayClient>();
        var client = new DiscordGatewayClient(
            Microsoft.Extensions.Options.Options.Create(new DiscordOptions { Token = "t", GatewayUrl = server.Url }),
            new RecordingDispatchHandler(), logger, time, null, new GatewayClientSettings());
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = client.RunAsync(cts.Token);

        await Eventually.TrueAsync(() => logger.Collector.GetSnapshot().Any(e => e.Id.Id == 1111), "the reconnect log (1111)", ct);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10), ct));

        var disconnected = Assert.Single(logger.Collector.GetSnapshot(), e => e.Id.Id == 1110).Message;
        Assert.StartsWith("Gateway: disconnected, close code 4000 (unknown error)", disconnected, StringComparison.Ordinal);
        Assert.EndsWith("; next: identify", disconnected, StringComparison.Ordinal);
        Assert.EndsWith(" ms to identify", Assert.Single(logger.Collector.GetSnapshot(), e => e.Id.Id == 1111).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Identify_PrivilegedIntentNotAllowed_ServerCloses4014AndClientStops()
    {
        await using var h = await GatewayHarness.StartAsync(intents: 1 << 15);

        var ex = await Assert.ThrowsAsync<GatewayFatalException>(() => h.Run.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));

        Assert.Equal(4014, ex.CloseCode);
        Assert.Contains("Developer Portal", ex.Message);
    }

    [Fact]
    public async Task Identify_PrivilegedIntentAllowed_GetsReadyWithThoseIntents()
    {
        await using var h = await GatewayHarness.StartAsync(intents: (1 << 15) | 1, allowedPrivilegedIntents: 1 << 15);
        await h.WaitReadyAsync();

        Assert.Contains("\"intents\":32769", h.Server.ReceivedOp(2)[0].Json);
    }
}
