using Dockhand.Discord.Gateway;
using Dockhand.Discord.Gateway.JsonModels;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Discord.Tests.Gateway;

/// <summary>
/// The gateway's rule types on their own (no socket, no loopback server): the close-code table, the session that
/// outlives connections, and the identify buckets. These run in the mutation build (scripts/mutation.sh), so each
/// rule here has a test that fails when the rule is changed.
/// </summary>
public sealed class GatewayRuleTests
{
    private static readonly int[] FatalCodes = [4004, 4010, 4011, 4012, 4013, 4014];
    private static readonly int[] NewSessionCodes = [4007, 4009];
    private static readonly int?[] ResumeCodes = [null, 1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008];

    [Fact]
    public void Classify_EveryDocumentedCode_FallsInTheRightClass()
    {
        foreach (var code in FatalCodes)
            Assert.Equal(GatewayCloseAction.Fatal, GatewayCloseCodes.Classify(code));
        foreach (var code in NewSessionCodes)
            Assert.Equal(GatewayCloseAction.NewSession, GatewayCloseCodes.Classify(code));
        foreach (var code in ResumeCodes)
            Assert.Equal(GatewayCloseAction.Resume, GatewayCloseCodes.Classify(code));
    }

    [Fact]
    public void Describe_EveryDocumentedCode_HasItsOwnDescription()
    {
        // The log line after a disconnect names the reason; two codes sharing a text (or an empty one) hide which it was.
        int?[] documented = [null, 1000, 1001, 4000, 4001, 4002, 4003, 4004, 4005, 4007, 4008, 4009, 4010, 4011, 4012, 4013, 4014];
        var descriptions = documented.Select(GatewayCloseCodes.Describe).ToList();

        Assert.All(descriptions, d => Assert.False(string.IsNullOrWhiteSpace(d)));
        Assert.DoesNotContain("unrecognised close code", descriptions);
        Assert.Equal(documented.Length, descriptions.Distinct().Count());
        Assert.Equal("unrecognised close code", GatewayCloseCodes.Describe(4999));
        Assert.Equal("authentication failed", GatewayCloseCodes.Describe(4004));
    }

    [Fact]
    public void FatalMessage_EveryFatalCode_NamesTheCodeAndWhatToDo()
    {
        var messages = FatalCodes.Select(GatewayCloseCodes.FatalMessage).ToList();

        for (var i = 0; i < FatalCodes.Length; i++)
            Assert.StartsWith($"Discord closed the gateway with {FatalCodes[i]} (", messages[i], StringComparison.Ordinal);
        Assert.Equal(FatalCodes.Length, messages.Distinct().Count());
        Assert.Contains("DISCORD_TOKEN", GatewayCloseCodes.FatalMessage(4004), StringComparison.Ordinal);
        Assert.Contains("Developer Portal", GatewayCloseCodes.FatalMessage(4014), StringComparison.Ordinal);
        Assert.Equal("Discord closed the gateway with 4999 (unrecognised close code).", GatewayCloseCodes.FatalMessage(4999));
        Assert.Equal(
            "Discord answered 401 to GET /gateway/bot (authentication failed): " + GatewayCloseCodes.InvalidTokenAdvice,
            GatewayCloseCodes.TokenRejectedMessage("GET /gateway/bot"));
    }

    [Fact]
    public void CanResume_NeedsSessionIdAndSequence_ClearForgetsBoth()
    {
        var session = new GatewaySession();
        Assert.False(session.CanResume);
        Assert.Null(session.LastSequence);

        session.Start(new JsonReady("s1", "wss://resume.example/", null));
        Assert.False(session.CanResume); // READY without a sequence yet
        session.RecordSequence(0);
        Assert.True(session.CanResume); // 0 is a sequence like any other
        Assert.Equal(0L, session.LastSequence);

        session.Clear();
        Assert.False(session.CanResume);
        Assert.Null(session.SessionId);
        Assert.Null(session.LastSequence);
        Assert.Null(session.TakeResumeUrl());
    }

    [Fact]
    public void TakeResumeUrl_AfterSkipOnce_NullOnceThenTheResumeUrlAgain()
    {
        var session = new GatewaySession();
        var url = session.Start(new JsonReady("s1", "wss://resume.example/", new JsonReadyApplication(new Snowflake(77))));

        Assert.Equal(new Uri("wss://resume.example/"), url);
        Assert.Equal(url, session.TakeResumeUrl());
        Assert.Equal(url, session.TakeResumeUrl()); // taking it does not use it up
        session.SkipResumeUrlOnce();
        Assert.Null(session.TakeResumeUrl());
        Assert.Equal(url, session.TakeResumeUrl());
        Assert.Equal(new Snowflake(77), session.ApplicationId);
    }

    [Fact]
    public void Start_ResumeUrlNotAUrlAndNoApplication_NullUrlAndApplicationIdUnknown()
    {
        var session = new GatewaySession();

        Assert.Null(session.Start(new JsonReady("s1", "not a url", null)));
        Assert.Null(session.TakeResumeUrl());
        Assert.Null(session.ApplicationId);
        Assert.Equal("s1", session.SessionId);
    }

    [Fact]
    public void IdentifyGate_ShardsInOneBucket_ShareTheWindow()
    {
        // Discord: the rate-limit bucket of a shard is shard_id % max_concurrency.
        var time = new FakeTimeProvider();
        var gate = new IdentifyGate(time);
        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 32, 16, 1000, TimeSpan.FromHours(1)));

        gate.RecordIdentify(shardId: 1);

        Assert.Equal(IdentifyGate.Window, gate.GetDelay(shardId: 17));
        Assert.Equal(TimeSpan.Zero, gate.GetDelay(shardId: 2));
        Assert.Equal(TimeSpan.Zero, gate.GetDelay(shardId: 0));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(3), gate.GetDelay(shardId: 1));
    }

    [Fact]
    public void IdentifyGate_SessionStartsUsedUpAndBucketBusy_WaitsForTheLonger()
    {
        var time = new FakeTimeProvider();
        var gate = new IdentifyGate(time);
        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 1, 1, 1, TimeSpan.FromSeconds(3)));

        gate.RecordIdentify();
        Assert.Equal(0, gate.RemainingSessionStarts);
        Assert.Equal(IdentifyGate.Window, gate.GetDelay()); // the bucket's 5 s outlast the 3 s to the reset

        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 1, 1, 0, TimeSpan.FromSeconds(60)));
        Assert.Equal(TimeSpan.FromSeconds(60), gate.GetDelay()); // now the reset is the longer wait
    }

    [Fact]
    public void CountInWindow_EverySendOlderThanTheWindow_Zero()
    {
        // Stryker survivors: CountInWindow without its prune, and a prune loop that runs past the last entry.
        var limiter = new GatewaySendLimiter(120, 10, TimeSpan.FromSeconds(60));
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 3; i++)
            limiter.Record(t0);

        Assert.Equal(3, limiter.CountInWindow(t0 + TimeSpan.FromSeconds(59)));
        Assert.Equal(0, limiter.CountInWindow(t0 + TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void DelayForOrdinary_EverySendOlderThanTheWindow_Zero()
    {
        // Stryker survivor: DelayForOrdinary without its prune still counted the expired sends and answered a negative wait.
        var limiter = new GatewaySendLimiter(120, 10, TimeSpan.FromSeconds(60));
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 110; i++)
            limiter.Record(t0);

        Assert.Equal(TimeSpan.Zero, limiter.DelayForOrdinary(t0 + TimeSpan.FromSeconds(61)));
    }

    [Fact]
    public void RecordIdentify_ResetPassedWithStartsLeft_KeepsCountingDown()
    {
        // Only a used-up count is forgotten at the reset; one with starts left counts down until /gateway/bot answers again.
        var time = new FakeTimeProvider();
        var gate = new IdentifyGate(time);
        gate.Update(new GatewayBotInfo(new Uri("wss://x"), 1, 1, 5, TimeSpan.FromSeconds(10)));
        time.Advance(TimeSpan.FromSeconds(11));

        gate.RecordIdentify();

        Assert.Equal(4, gate.RemainingSessionStarts);
    }
}
