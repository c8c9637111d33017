using System.Net.WebSockets;
using System.Text;
using Dockhand.Discord.Testing.Gateway;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Discord.Tests.Gateway;

/// <summary>The test server itself follows Discord's rules (checked with a raw WebSocket client).</summary>
public sealed class LoopbackDiscordGatewayTests
{
    private static async Task<(LoopbackDiscordGateway Server, ClientWebSocket Socket)> ConnectAsync(FakeTimeProvider time, bool userAgent = true, string query = "?v=10&encoding=json")
    {
        var server = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions { TimeProvider = time, HeartbeatIntervalMs = 10_000 });
        await server.StartAsync(TestContext.Current.CancellationToken);
        var socket = new ClientWebSocket();
        if (userAgent)
            socket.Options.SetRequestHeader("User-Agent", "DiscordBot (test, 1)");
        await socket.ConnectAsync(new Uri(server.Url, query), TestContext.Current.CancellationToken);
        if (!userAgent)
            return (server, socket); // refused: the caller reads the close, which comes instead of Hello

        var hello = await ReceiveAsync(socket);
        // The first frame is Hello (op 10) with the configured interval; a close instead of a frame (null) fails here.
        Assert.NotNull(hello);
        using (var document = System.Text.Json.JsonDocument.Parse(hello))
        {
            Assert.Equal(10, document.RootElement.GetProperty("op").GetInt32());
            Assert.Equal(10_000, document.RootElement.GetProperty("d").GetProperty("heartbeat_interval").GetInt32());
        }

        return (server, socket);
    }

    private static async Task<string?> ReceiveAsync(ClientWebSocket socket)
    {
        var buffer = new byte[65536];
        var result = await socket.ReceiveAsync(buffer, TestContext.Current.CancellationToken);
        return result.MessageType == WebSocketMessageType.Close ? null : Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    private static Task SendAsync(ClientWebSocket socket, string json) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);

    /// <summary>Reads until the server closes; a server that never closes fails the test after 10 s instead of hanging it.</summary>
    private static Task<int?> ReadUntilCloseAsync(ClientWebSocket socket)
    {
        return ReadAsync().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        async Task<int?> ReadAsync()
        {
            while (socket.State == WebSocketState.Open && await ReceiveAsync(socket) is not null)
            {
            }

            return (int?)socket.CloseStatus;
        }
    }

    [Fact]
    public async Task Upgrade_WithoutUserAgent_Closes4002()
    {
        var (server, socket) = await ConnectAsync(new FakeTimeProvider(), userAgent: false);
        await using var _ = server;
        using var __ = socket;

        Assert.Equal(4002, await ReadUntilCloseAsync(socket));
    }

    [Fact]
    public async Task Send_MoreThan120EventsIn60Seconds_Closes4008()
    {
        var (server, socket) = await ConnectAsync(new FakeTimeProvider());
        await using var _ = server;
        using var __ = socket;

        var reader = Task.Run(() => ReadUntilCloseAsync(socket));
        for (var i = 0; i < 121 && socket.State == WebSocketState.Open; i++)
            await SendAsync(socket, """{"op":1,"d":null}""");

        Assert.Equal(4008, await reader.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Send_PayloadAbove4096Bytes_Closes4002()
    {
        var (server, socket) = await ConnectAsync(new FakeTimeProvider());
        await using var _ = server;
        using var __ = socket;

        await SendAsync(socket, $$"""{"op":1,"d":null,"x":"{{new string('x', 4100)}}"}""");

        Assert.Equal(4002, await ReadUntilCloseAsync(socket));
    }

    [Fact]
    public async Task Heartbeats_Missing_ConnectionClosedResumably()
    {
        var time = new FakeTimeProvider();
        var (server, socket) = await ConnectAsync(time);
        await using var _ = server;
        using var __ = socket;

        time.Advance(TimeSpan.FromSeconds(13)); // interval 10 s + 25 % grace

        Assert.Equal(4000, await ReadUntilCloseAsync(socket));
    }

    [Fact]
    public async Task Dispatch_BeforeIdentify_Op3Closes4003()
    {
        var (server, socket) = await ConnectAsync(new FakeTimeProvider());
        await using var _ = server;
        using var __ = socket;

        await SendAsync(socket, """{"op":3,"d":{"status":"online","since":null,"activities":[],"afk":false}}""");

        Assert.Equal(4003, await ReadUntilCloseAsync(socket));
    }

    [Fact]
    public async Task DispatchAsync_AsSoonAsSessionIsAnnounced_SentAfterReadyWithoutResume()
    {
        var ct = TestContext.Current.CancellationToken;
        var (server, socket) = await ConnectAsync(new FakeTimeProvider());
        await using var _ = server;
        using var __ = socket;

        await SendAsync(socket, """{"op":2,"d":{"token":""" + System.Text.Json.JsonSerializer.Serialize(server.Options.Token) + ""","intents":0,"properties":{"os":"linux","browser":"t","device":"t"}}}""");
        await server.WaitUntilAsync(s => s.CurrentSessionId is not null, TimeSpan.FromSeconds(10), ct);
        await server.DispatchAsync("INTERACTION_CREATE", """{"id":"1","type":2}""", ct);

        var first = await ReceiveAsync(socket).WaitAsync(TimeSpan.FromSeconds(5), ct);
        var second = await ReceiveAsync(socket).WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Contains("\"t\":\"READY\"", first, StringComparison.Ordinal);
        Assert.Contains("\"t\":\"INTERACTION_CREATE\"", second, StringComparison.Ordinal);
        Assert.Contains("\"s\":2", second, StringComparison.Ordinal);
    }
}
