using Dockhand.Discord.Gateway;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayUnitTests
{
    [Fact]
    public void GetDelay_Attempts_DoubleFromBaseUpToCapWithJitter()
    {
        var low = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), () => 0);
        var high = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), () => 0.999999);

        Assert.Equal(TimeSpan.Zero, low.GetDelay(0));
        Assert.Equal(TimeSpan.FromMilliseconds(500), low.GetDelay(1));
        Assert.Equal(TimeSpan.FromMilliseconds(1000), low.GetDelay(2));
        Assert.Equal(TimeSpan.FromMilliseconds(2000), low.GetDelay(3));
        Assert.Equal(TimeSpan.FromSeconds(30), low.GetDelay(20));
        Assert.InRange(high.GetDelay(3), TimeSpan.FromMilliseconds(3999), TimeSpan.FromMilliseconds(4000));
        Assert.InRange(high.GetDelay(100), TimeSpan.FromSeconds(59.99), TimeSpan.FromSeconds(60));

        // Without a random source (REST retries) the delays are exact: 250 ms, 500 ms, 1 s, 2 s, then the cap.
        var rest = new RetryBackoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
        Assert.Equal([250, 500, 1000, 2000, 2000], [.. Enumerable.Range(1, 5).Select(a => rest.GetDelay(a).TotalMilliseconds)]);
    }

    [Fact]
    public void DelayForOrdinary_WindowFull_WaitsUntilOldestLeaves()
    {
        var limiter = new GatewaySendLimiter(120, 10, TimeSpan.FromSeconds(60));
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 110; i++)
            limiter.Record(t0 + TimeSpan.FromSeconds(i * 0.1));

        Assert.Equal(TimeSpan.FromSeconds(60) - TimeSpan.FromSeconds(11), limiter.DelayForOrdinary(t0 + TimeSpan.FromSeconds(11)));
        Assert.Equal(TimeSpan.Zero, limiter.DelayForOrdinary(t0 + TimeSpan.FromSeconds(60)));
        Assert.Equal(109, limiter.CountInWindow(t0 + TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void IdentifyGate_OneShardMaxConcurrency16_StillOnePer5Seconds()
    {
        var time = new FakeTimeProvider();
        var gate = new IdentifyGate(time);
        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 1, 16, 1000, TimeSpan.FromHours(1)));

        Assert.Equal(TimeSpan.Zero, gate.GetDelay());
        gate.RecordIdentify();
        Assert.Equal(TimeSpan.FromSeconds(5), gate.GetDelay());
        Assert.Equal(TimeSpan.Zero, gate.GetDelay(shardId: 1)); // another bucket
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.Zero, gate.GetDelay());
        Assert.Equal(999, gate.RemainingSessionStarts);
    }

    [Theory]
    [InlineData("wss://gateway.discord.gg", "wss://gateway.discord.gg/?v=10&encoding=json")]
    [InlineData("wss://gateway.discord.gg/?v=9&encoding=etf", "wss://gateway.discord.gg/?v=10&encoding=json")]
    [InlineData("http://127.0.0.1:5000/resume", "ws://127.0.0.1:5000/resume?v=10&encoding=json")]
    public void BuildConnectUri_AnyGatewayUrl_AddsVersionAndEncoding(string input, string expected)
    {
        Assert.Equal(expected, DiscordGatewayClient.BuildConnectUri(new Uri(input)).ToString());
    }
}
