using System.Diagnostics;
using System.Net;
using Dockhand.Discord.Commands;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Support;
using Routes = Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes;

namespace Dockhand.Discord.Tests.Rest;

public sealed class DiscordRestClientTests
{
    [Fact]
    public async Task GetUserAsync_KnownUser_SendsBotAuthorizationAndUserAgent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(42, "alice", "Alice A.");

        var user = await f.Client.GetUserAsync(42, ct);

        Assert.Equal(new DiscordUser(42, "alice", "Alice A."), user);
        Assert.Equal("Alice A.", user!.DisplayName);
        var request = Assert.Single(f.Server.RequestsTo(Routes.GetUser));
        Assert.Equal("Bot " + f.Server.Token, request.Headers["Authorization"]);
        Assert.StartsWith("DiscordBot (", request.Headers["User-Agent"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyRoute_BaseUrlWithoutApiVersion_Answered404()
    {
        // Discord serves the API under /api/v10; a client that dropped the prefix reaches nothing.
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(configure: o => o.ApiBaseUrl = new Uri(o.ApiBaseUrl, "/"), cancellationToken: ct);

        var e = await Assert.ThrowsAsync<DiscordRestException>(() => f.Client.GetCurrentApplicationAsync(ct));

        Assert.Equal(HttpStatusCode.NotFound, e.Status);
        Assert.Equal("/oauth2/applications/@me", Assert.Single(f.Server.Requests).Path);
    }

    [Fact]
    public async Task GetUserAsync_UnknownUser_ReturnsNull()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        Assert.Null(await f.Client.GetUserAsync(7, ct));
    }

    [Fact]
    public async Task GetCurrentApplicationAsync_WrongToken_ThrowsAndCountsInvalidRequest()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(clientToken: "wrong", cancellationToken: ct);

        var e = await Assert.ThrowsAsync<DiscordRestException>(() => f.Client.GetCurrentApplicationAsync(ct));

        Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
        Assert.Equal(1, f.Client.InvalidRequestCount);
    }

    [Fact]
    public async Task GetGatewayBotInfoAsync_ConfiguredGateway_ReturnsItsUrlAndConcurrency()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.GatewayUrl = new Uri("ws://127.0.0.1:5555/gateway");
        f.Server.MaxConcurrency = 4;

        var info = await f.Client.GetGatewayBotInfoAsync(ct);

        Assert.Equal(new Uri("ws://127.0.0.1:5555/gateway"), info.Url);
        Assert.Equal(4, info.MaxConcurrency);
        Assert.Equal(new Snowflake(f.Server.ApplicationId), (await f.Client.GetCurrentApplicationAsync(ct)).Id);
    }

    [Fact]
    public async Task GetUserAsync_ManyConcurrentOnSmallBucket_NeverExceedsBucket()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.SetBucket(Routes.GetUser, "users-bucket", limit: 2, TimeSpan.FromMilliseconds(300));
        f.Server.AddUser(1, "one");
        var watch = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => f.Client.GetUserAsync(1, ct)));

        Assert.Equal(0, f.Server.BucketViolations);
        Assert.Equal(6, f.Server.RequestsTo(Routes.GetUser).Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(550), $"6 requests at 2 per 300 ms took only {watch.Elapsed}");
    }

    [Fact]
    public async Task SharedBucketAcrossRoutes_ConcurrentCalls_NeverExceedBucket()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.SetBucket(Routes.GetUser, "shared", limit: 3, TimeSpan.FromMilliseconds(300));
        f.Server.SetBucket(Routes.CurrentApplication, "shared", limit: 3, TimeSpan.FromMilliseconds(300));
        f.Server.AddUser(1, "one");
        // Learn the bucket hash on both routes first.
        await f.Client.GetUserAsync(1, ct);
        await f.Client.GetCurrentApplicationAsync(ct);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? f.Client.GetUserAsync(1, ct) : (Task)f.Client.GetCurrentApplicationAsync(ct)));

        Assert.Equal(0, f.Server.BucketViolations);
    }

    [Fact]
    public async Task RouteRateLimited_429WithRetryAfter_RetriesAfterRetryAfter()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueRateLimit(Routes.GetUser, TimeSpan.FromMilliseconds(400));

        var user = await f.Client.GetUserAsync(1, ct);

        Assert.NotNull(user);
        var requests = f.Server.RequestsTo(Routes.GetUser);
        Assert.Equal([429, 200], requests.Select(r => r.Status));
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromMilliseconds(390), $"retried after {requests[1].At - requests[0].At}");
        Assert.Equal(1, f.Client.InvalidRequestCount);
    }

    [Fact]
    public async Task RouteRateLimited_OtherRoute_IsNotDelayed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueRateLimit(Routes.GetUser, TimeSpan.FromSeconds(2));

        var slow = f.Client.GetUserAsync(1, ct);
        await WaitUntilAsync(() => f.Server.RequestsTo(Routes.GetUser).Count == 1, ct);
        await f.Client.GetCurrentApplicationAsync(ct);
        // The other route answered while GetUser still waits out its 2 s retry_after: no wall-clock upper bound needed.
        Assert.False(slow.IsCompleted);
        Assert.NotNull(await slow);
    }

    [Fact]
    public async Task GlobalRateLimited_429Global_PausesOtherRoutesUntilRetryAfter()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueRateLimit(Routes.GetUser, TimeSpan.FromMilliseconds(600), RateLimitScope.Global);

        var first = f.Client.GetUserAsync(1, ct);
        await WaitUntilAsync(() => f.Server.RequestsTo(Routes.GetUser).Count == 1, ct);
        var limitedAt = f.Server.RequestsTo(Routes.GetUser)[0].At;
        // The client has read the 429 (it counts as an invalid request) and so recorded the global pause.
        await WaitUntilAsync(() => f.Client.InvalidRequestCount == 1, ct);
        await f.Client.GetCurrentApplicationAsync(ct);
        await first;

        var app = Assert.Single(f.Server.RequestsTo(Routes.CurrentApplication));
        Assert.True(app.At - limitedAt >= TimeSpan.FromMilliseconds(590), $"other route sent {app.At - limitedAt} after a global 429");
        Assert.Equal(0, f.Server.GlobalViolations);
    }

    [Fact]
    public async Task GlobalRateLimited_InteractionCallbackAndWebhook_AreNotDelayed()
    {
        // Rate Limits, "Global Rate Limit": interaction endpoints are not bound to the bot's global rate limit, so a
        // global 429 must not hold a callback past its 3 s deadline.
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueRateLimit(Routes.GetUser, TimeSpan.FromSeconds(2), RateLimitScope.Global);

        var limited = f.Client.GetUserAsync(1, ct);
        await WaitUntilAsync(() => f.Logger.Collector.GetSnapshot().Any(e => e.Id.Id == 3101), ct); // the client has read the global 429
        var limitedAt = f.Server.RequestsTo(Routes.GetUser)[0].At;
        await f.Client.CreateInteractionResponseAsync(31, "tok31", InteractionResponse.Deferred(ephemeral: false), ct);
        await f.Client.EditOriginalResponseAsync(f.Server.ApplicationId, "tok31", DiscordMessage.Text("done"), ct);
        await limited;

        var callback = Assert.Single(f.Server.RequestsTo(Routes.InteractionCallback));
        var edit = Assert.Single(f.Server.RequestsTo(Routes.EditOriginal));
        Assert.True(edit.At - limitedAt < TimeSpan.FromSeconds(1.5), $"interaction routes waited {edit.At - limitedAt} behind a 2 s global 429");
        Assert.Equal(204, callback.Status);
        Assert.Equal(0, f.Server.GlobalViolations);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    [InlineData(524)]
    public async Task GetUserAsync_OneEdgeError_IsRetried(int status)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueFault(Routes.GetUser, RestFault.EdgeError, status);

        Assert.NotNull(await f.Client.GetUserAsync(1, ct));

        Assert.Equal([status, 200], f.Server.RequestsTo(Routes.GetUser).Select(r => r.Status));
    }

    [Fact]
    public async Task EditOriginalResponseAsync_ConnectionDropped_IsRetried()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        await f.Client.CreateInteractionResponseAsync(41, "tok41", InteractionResponse.Deferred(ephemeral: false), ct);
        f.Server.EnqueueFault(Routes.EditOriginal, RestFault.DropBeforeProcessing);

        var edited = await f.Client.EditOriginalResponseAsync(f.Server.ApplicationId, "tok41", DiscordMessage.Text("final"), ct);

        Assert.Equal("final", edited.Content);
        Assert.Equal([0, 200], f.Server.RequestsTo(Routes.EditOriginal).Select(r => r.Status));
    }

    [Fact]
    public async Task CreateInteractionResponseAsync_ResponseLostAfterApplied_RetryAnswered40060IsSuccess()
    {
        // The callback reached Discord but its answer was lost; the retry is "already acknowledged" (40060), which means
        // the first one worked.
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.EnqueueFault(Routes.InteractionCallback, RestFault.DropAfterProcessing);

        await f.Client.CreateInteractionResponseAsync(42, "tok42", InteractionResponse.Message("hi"), ct);

        Assert.Equal([0, 400], f.Server.RequestsTo(Routes.InteractionCallback).Select(r => r.Status));
        Assert.Equal("hi", f.Server.GetOriginal("tok42")!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task CreateInteractionResponseAsync_EdgeErrorsPastThreeSeconds_StopsRetryingInsideTheWindow()
    {
        // On a fake clock that the test moves to each backoff timer: the window is the client's to keep, so it is judged
        // on the client's clock (on the real one a starved machine delivered an in-time retry 3.1 s after the first).
        var ct = TestContext.Current.CancellationToken;
        var time = new TimerRecordingTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var f = await RestFixture.StartAsync(time: time, cancellationToken: ct);
        for (var i = 0; i < 10; i++)
            f.Server.EnqueueFault(Routes.InteractionCallback, RestFault.EdgeError, 503);

        var call = f.Client.CreateInteractionResponseAsync(43, "tok43", InteractionResponse.Message("hi"), ct);
        while (!call.IsCompleted)
        {
            await Eventually.TrueAsync(() => call.IsCompleted || time.PendingDueIn().Any(d => d <= TimeSpan.FromSeconds(3)), "a retry's backoff or the end of the call", ct);
            if (!call.IsCompleted)
                time.Advance(time.PendingDueIn().First(d => d <= TimeSpan.FromSeconds(3)));
        }

        var e = await Assert.ThrowsAsync<DiscordRestException>(() => call);
        var attempts = f.Server.RequestsTo(Routes.InteractionCallback);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.Status);
        Assert.InRange(attempts.Count, 2, 9);
        Assert.True(attempts[^1].At - attempts[0].At < TimeSpan.FromSeconds(3), $"last retry {attempts[^1].At - attempts[0].At} after the first");
    }

    [Fact]
    public async Task GetUserAsync_Html429FromTheEdge_NoRetryAndEveryRoutePausesForRetryAfter()
    {
        // Rate Limits, "Invalid Request Limit aka Cloudflare bans": an HTML 429 is an IP ban, not a route's limit.
        // Retrying adds invalid requests during the ban, and the ban covers interaction routes too.
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueFault(Routes.GetUser, RestFault.EdgeError, 429, retryAfter: TimeSpan.FromSeconds(2));

        var e = await Assert.ThrowsAsync<DiscordRestException>(() => f.Client.GetUserAsync(1, ct));
        var bannedAt = Assert.Single(f.Server.RequestsTo(Routes.GetUser)).At;
        await f.Client.CreateInteractionResponseAsync(44, "tok44", InteractionResponse.Deferred(ephemeral: false), ct);

        Assert.Equal(HttpStatusCode.TooManyRequests, e.Status);
        Assert.Contains("temporary ban", e.Message, StringComparison.Ordinal);
        var callback = Assert.Single(f.Server.RequestsTo(Routes.InteractionCallback));
        Assert.True(callback.At - bannedAt >= TimeSpan.FromSeconds(1.9), $"callback sent {callback.At - bannedAt} into a 2 s ban");
        Assert.Equal(204, callback.Status);
        Assert.Equal(0, f.Server.BanViolations);
    }

    [Fact]
    public async Task GetUserAsync_RetryAfterLongerThanMaxWait_GivesUpAtOnceNamingTheSetting()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(configure: o => o.MaxRateLimitWait = TimeSpan.FromSeconds(1), cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueRateLimit(Routes.GetUser, TimeSpan.FromSeconds(30));
        var watch = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<DiscordRestException>(() => f.Client.GetUserAsync(1, ct));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"gave up after {watch.Elapsed}");
        Assert.Equal(HttpStatusCode.TooManyRequests, e.Status);
        Assert.Contains("DISCORD_MAX_RATE_LIMIT_WAIT", e.Message, StringComparison.Ordinal);
        Assert.Single(f.Server.RequestsTo(Routes.GetUser));
    }

    [Fact]
    public async Task SharedScope429_IsRetriedButNotCountedAsInvalid()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        f.Server.AddUser(1, "one");
        f.Server.EnqueueRateLimit(Routes.GetUser, TimeSpan.FromMilliseconds(100), RateLimitScope.Shared);

        Assert.NotNull(await f.Client.GetUserAsync(1, ct));

        Assert.Equal(2, f.Server.RequestsTo(Routes.GetUser).Count);
        Assert.Equal(0, f.Client.InvalidRequestCount);
    }

    [Fact]
    public async Task ManyRequests_OverGlobalLimit_ServerSeesNoGlobalViolation()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        for (ulong i = 1; i <= 60; i++)
            f.Server.AddUser(i, "u" + i);

        await Task.WhenAll(Enumerable.Range(1, 60).Select(i => f.Client.GetUserAsync((ulong)i, ct)));

        Assert.Equal(60, f.Server.RequestsTo(Routes.GetUser).Count(r => r.Status == 200));
        Assert.Equal(0, f.Server.GlobalViolations);
    }

    [Fact]
    public async Task BulkOverwriteCommandsAsync_InvalidDefinition_ThrowsWithDiscordFormErrorCode()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);

        var e = await Assert.ThrowsAsync<DiscordRestException>(() =>
            f.Client.BulkOverwriteCommandsAsync(f.Server.ApplicationId, null, [new SlashCommand("Bad Name", "x")], ct));

        Assert.Equal(50035, e.Code);
        // The nested "errors" object, flattened to field paths, in the exception and the log.
        Assert.Contains("0.name: Command and option names are 1-32 lowercase characters", e.Message, StringComparison.Ordinal);
        Assert.Contains(f.Logger.Collector.GetSnapshot(), l => l.Message.Contains("PUT /applications/{id}/commands", StringComparison.Ordinal)
            && l.Message.Contains("0.name: Command and option names", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InteractionFlow_DeferEditFollowUpDelete_KeepsServerMessageState()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var appId = f.Server.ApplicationId;

        await f.Client.CreateInteractionResponseAsync(11, "tok", InteractionResponse.Deferred(ephemeral: true), ct);
        var edited = await f.Client.EditOriginalResponseAsync(appId, "tok", DiscordMessage.Text("done"), ct);
        var original = await f.Client.GetOriginalResponseAsync(appId, "tok", ct);
        var follow = await f.Client.CreateFollowUpAsync(appId, "tok", DiscordMessage.Text("more", ephemeral: true), ct);

        Assert.Equal("done", edited.Content);
        Assert.Equal(64, original.Flags);
        Assert.Equal("done", f.Server.GetOriginal("tok")!["content"]!.GetValue<string>());
        Assert.Equal(64, follow.Flags);
        Assert.Single(f.Server.GetFollowUps("tok"));

        await f.Client.DeleteOriginalResponseAsync(appId, "tok", ct);
        Assert.Null(f.Server.GetOriginal("tok"));
        var again = await Assert.ThrowsAsync<DiscordRestException>(() => f.Client.CreateInteractionResponseAsync(11, "tok", InteractionResponse.Message("x"), ct));
        Assert.Equal(40060, again.Code);
    }

    [Fact]
    public async Task ComponentInteraction_UpdateThenDeferredUpdate_EditTheMessageTheButtonIsOn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var appId = f.Server.ApplicationId;
        await f.Client.CreateInteractionResponseAsync(21, "cmd", InteractionResponse.Message("pick"), ct);
        var message = f.Server.GetOriginal("cmd")!;
        var id = message["id"]!.GetValue<string>();

        var first = InteractionPayloads.Button(appId, "press1", 5, "dh:x");
        first["message"] = message;
        f.Server.ObserveInteraction(first);
        await f.Client.CreateInteractionResponseAsync(22, "press1", InteractionResponse.Update(DiscordMessage.Text("updated")), ct);
        var afterUpdate = f.Server.GetOriginal("cmd")!;

        var second = InteractionPayloads.Button(appId, "press2", 5, "dh:y");
        second["message"] = afterUpdate;
        f.Server.ObserveInteraction(second);
        await f.Client.CreateInteractionResponseAsync(23, "press2", InteractionResponse.DeferredUpdate(), ct);
        var edited = await f.Client.EditOriginalResponseAsync(appId, "press2", DiscordMessage.Text("edited later"), ct);

        Assert.Equal("updated", afterUpdate["content"]!.GetValue<string>());
        Assert.Equal(id, afterUpdate["id"]!.GetValue<string>());
        Assert.Equal(id, edited.Id.ToString());
        Assert.Equal("edited later", f.Server.GetOriginal("cmd")!["content"]!.GetValue<string>());
        Assert.Equal("edited later", f.Server.GetMessage(id)!["content"]!.GetValue<string>());
        Assert.Empty(f.Server.GetFollowUps("press2"));
    }

    [Fact]
    public async Task InteractionRoutes_WithToken_SendNoBotAuthorization()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var appId = f.Server.ApplicationId;

        await f.Client.CreateInteractionResponseAsync(12, "tok2", InteractionResponse.Deferred(ephemeral: false), ct);
        await f.Client.EditOriginalResponseAsync(appId, "tok2", DiscordMessage.Text("done"), ct);
        await f.Client.CreateFollowUpAsync(appId, "tok2", DiscordMessage.Text("more"), ct);

        Assert.Equal(3, f.Server.Requests.Count);
        Assert.All(f.Server.Requests, r => Assert.False(r.Headers.ContainsKey("Authorization"), r.Route + " carried the bot token"));
    }

    [Fact]
    public async Task InteractionFlow_WithoutToken_WorksAndBotRoutesThrowNamingTheKey()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(withoutToken: true, cancellationToken: ct);
        var appId = f.Server.ApplicationId;

        await f.Client.CreateInteractionResponseAsync(13, "tok3", InteractionResponse.Deferred(ephemeral: true), ct);
        var edited = await f.Client.EditOriginalResponseAsync(appId, "tok3", DiscordMessage.Text("done"), ct);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => f.Client.GetUserAsync(42, ct));

        Assert.Equal("done", edited.Content);
        Assert.Contains("DISCORD_TOKEN is not set", e.Message, StringComparison.Ordinal);
        Assert.Empty(f.Server.RequestsTo(Routes.GetUser));
    }

    private static Task WaitUntilAsync(Func<bool> condition, CancellationToken ct) =>
        Eventually.TrueAsync(condition, "the condition", ct);

    [Fact]
    public async Task InteractionRoutes_ManyDistinctInteractions_LimiterStateStaysBounded()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2026-11-26T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var f = await RestFixture.StartAsync(time: time, cancellationToken: ct);
        var appId = f.Server.ApplicationId;
        const int perRound = 50;
        var peakBuckets = 0;

        // 8 rounds of 50 interactions, 5 minutes apart: each one's callback and edit are keyed by its own token.
        for (var round = 0; round < 8; round++)
        {
            for (var i = 0; i < perRound; i++)
            {
                var id = (ulong)(1_000 + (round * perRound) + i);
                var token = $"tok-{round}-{i}";
                await f.Client.CreateInteractionResponseAsync(id, token, InteractionResponse.Deferred(ephemeral: true), ct);
                await f.Client.EditOriginalResponseAsync(appId, token, DiscordMessage.Text("done"), ct);
            }
            var (routeLocks, routeTemplates, buckets) = f.Client.RateLimiter.TrackedCounts;
            Assert.Equal(0, routeLocks);
            // Keyed by template ("POST /interactions/{interaction_id}/{interaction_token}/callback"): one per endpoint.
            Assert.Equal(2, routeTemplates);
            peakBuckets = Math.Max(peakBuckets, buckets);
            time.Advance(TimeSpan.FromMinutes(5));
        }

        // Only interactions of the last 15 minutes (at most 4 rounds, 2 routes each) may still be tracked, not all 8 rounds.
        Assert.InRange(peakBuckets, 1, 4 * perRound * 2);
        Assert.Equal(0, f.Server.BucketViolations);
    }
}
