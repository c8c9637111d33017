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

    [Fact]
    public void IdentifyGate_MaxConcurrencyZero_TreatedAsOne()
    {
        // A bad /gateway/bot answer (max_concurrency 0) must not become a division by zero in the bucket number.
        var time = new FakeTimeProvider();
        var gate = new IdentifyGate(time);
        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 1, 0, 1000, TimeSpan.FromHours(1)));

        gate.RecordIdentify();
        Assert.Equal(1, gate.MaxConcurrency);
        Assert.Equal(IdentifyGate.Window, gate.GetDelay());
    }

    [Fact]
    public void IdentifyGate_SessionStartsUsedUp_WaitsForResetThenCountsAgain()
    {
        var time = new FakeTimeProvider();
        var gate = new IdentifyGate(time);
        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 1, 1, 0, TimeSpan.FromSeconds(30)));

        Assert.True(gate.SessionStartsExhausted);
        Assert.Equal(TimeSpan.FromSeconds(30), gate.GetDelay());
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(gate.SessionStartsExhausted);
        Assert.Equal(TimeSpan.Zero, gate.GetDelay());
        gate.RecordIdentify();
        Assert.Equal(int.MaxValue, gate.RemainingSessionStarts); // unknown until the next /gateway/bot answer
    }

    [Fact]
    public void DelayForOrdinary_ReservedSlotsLeft_OrdinaryStillWaits()
    {
        // 110 ordinary sends fill the window; the 10 slots kept for heartbeats are not theirs to use.
        var limiter = new GatewaySendLimiter(120, 10, TimeSpan.FromSeconds(60));
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 109; i++)
            limiter.Record(t0);
        Assert.Equal(TimeSpan.Zero, limiter.DelayForOrdinary(t0));
        limiter.Record(t0);
        Assert.Equal(TimeSpan.FromSeconds(60), limiter.DelayForOrdinary(t0));
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
