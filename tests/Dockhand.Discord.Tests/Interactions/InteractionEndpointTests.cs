using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Routes = Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes;

namespace Dockhand.Discord.Tests.Interactions;

public sealed class InteractionEndpointTests
{
    [Fact]
    public async Task Post_SignedPing_AnswersPong()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask, cancellationToken: ct);

        using var response = await host.SendSignedAsync(InteractionPayloads.Ping(host.Rest.ApplicationId), cancellationToken: ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"type":1}""", await response.Content.ReadAsStringAsync(ct));
    }

    [Fact]
    public async Task Post_UnsignedPing_Answers401()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask, cancellationToken: ct);

        using var ping = new StringContent(InteractionPayloads.Ping(1), Encoding.UTF8, "application/json");
        using var response = await host.Http.PostAsync(host.Endpoint, ping, ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Post_StaleSignedRequest_Answers401()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask, cancellationToken: ct);

        using var response = await host.SendSignedAsync(InteractionPayloads.Ping(host.Rest.ApplicationId), DateTimeOffset.UtcNow.AddMinutes(-6), ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Post_OversizedBody_RejectedWithout500()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask, cancellationToken: ct);

        using var response = await host.SendSignedAsync("{\"type\":1,\"pad\":\"" + new string('a', InteractionEndpoint.MaxBodyBytes) + "\"}", cancellationToken: ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Post_SignedButNotJson_Answers400()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask, cancellationToken: ct);

        using var response = await host.SendSignedAsync("{not json", cancellationToken: ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Post_SlashCommandWithUserOption_HandlerSeesTypedOptionsAndResponseIsHttpBody()
    {
        var ct = TestContext.Current.CancellationToken;
        Interaction? seen = null;
        await using var host = await InteractionsHost.StartAsync((i, r, c) =>
        {
            seen = i;
            return r.RespondAsync(InteractionResponse.Message("hello " + i.GetUser("target")!.DisplayName, ephemeral: true), c);
        }, cancellationToken: ct);
        var payload = InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "tok-1", 77, "status",
            [new TestOption("target", 6, "88", ResolvedUsername: "bob"), new TestOption("count", 4, 3), new TestOption("force", 5, true), new TestOption("name", 3, "dev")],
            guildId: 555);

        using var response = await host.SendSignedAsync(payload.ToJsonString(), cancellationToken: ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(4, body["type"]!.GetValue<int>());
        Assert.Equal("hello bob", body["data"]!["content"]!.GetValue<string>());
        Assert.Equal(64, body["data"]!["flags"]!.GetValue<int>());
        Assert.NotNull(seen);
        Assert.Equal(new Snowflake(77), seen.UserId);
        Assert.Equal(555UL, seen.GuildId);
        Assert.Equal("status", seen.CommandName);
        Assert.Equal(88UL, seen.GetUserId("target"));
        Assert.Equal(3L, seen.GetInteger("count"));
        Assert.True(seen.GetBoolean("force"));
        Assert.Equal("dev", seen.GetString("name"));
    }

    [Fact]
    public async Task Post_SameSignedBodyTwice_HandledOnceAndRepeatAnsweredWithoutRunning()
    {
        // A valid signature only proves Discord signed the body once; anyone who saw it may post it again while its
        // timestamp is inside the 5-minute window.
        var ct = TestContext.Current.CancellationToken;
        var runs = 0;
        await using var host = await InteractionsHost.StartAsync((i, r, c) =>
        {
            Interlocked.Increment(ref runs);
            return r.RespondAsync(InteractionResponse.Message("created"), c);
        }, cancellationToken: ct);
        var body = InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "tok-replay", 1, "create").ToJsonString();
        var signedAt = DateTimeOffset.UtcNow;

        using var first = await host.SendSignedAsync(body, signedAt, ct);
        using var repeat = await host.SendSignedAsync(body, signedAt, ct);

        Assert.Contains("created", await first.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, repeat.StatusCode);
        Assert.Contains("already handled", await repeat.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref runs));
    }

    [Fact]
    public void ReplayGuard_ManyIdsAndTime_StaysBoundedAndForgetsAfter15Minutes()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var guard = new InteractionReplayGuard(time);

        Assert.True(guard.TryTake(1));
        Assert.False(guard.TryTake(1));
        time.Advance(TimeSpan.FromMinutes(14));
        Assert.False(guard.TryTake(1));
        for (ulong id = 2; id < 2 + InteractionReplayGuard.Capacity + 10; id++)
            guard.TryTake(id);
        Assert.Equal(InteractionReplayGuard.Capacity, guard.Count);
        time.Advance(TimeSpan.FromMinutes(15));
        Assert.True(guard.TryTake(1));
        Assert.Equal(1, guard.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Post_HandlerDefersThenEdits_DeferredBodyThenOriginalEditedOverRest(int run)
    {
        var ct = TestContext.Current.CancellationToken;
        var edited = new TaskCompletionSource();
        await using var host = await InteractionsHost.StartAsync(async (i, r, c) =>
        {
            await r.RespondAsync(InteractionResponse.Deferred(ephemeral: true), c);
            await r.EditOriginalAsync(DiscordMessage.Text("container ready"), c); // at once: must not overtake the HTTP body
            await r.FollowUpAsync(DiscordMessage.Text("one more thing", ephemeral: true), c);
            edited.SetResult();
        }, cancellationToken: ct);
        _ = run; // repeated: the edit races the loopback server's reading of the HTTP body
        var payload = InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "tok-2", 77, "create");

        using var response = await host.Rest.SendHttpInteractionAsync(host.Http, host.Endpoint, host.Signer, payload, ct);
        Assert.Equal("""{"type":5,"data":{"flags":64}}""", await response.Content.ReadAsStringAsync(ct));
        await edited.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.Equal("container ready", host.Rest.GetOriginal("tok-2")!["content"]!.GetValue<string>());
        Assert.Single(host.Rest.GetFollowUps("tok-2"));
        Assert.Equal(Routes.EditOriginal, host.Rest.Requests[0].Route);
        // An edit that still reached the server before it had read our HTTP body got 404 and was retried.
        Assert.Equal(host.Rest.OvertakingWebhookCalls, host.Rest.RequestsTo(Routes.EditOriginal).Count(r => r.Status == 404));
    }

    [Fact]
    public async Task Post_HandlerThrowsWithoutResponding_GetsEphemeralFallbackNot500()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => throw new InvalidOperationException("boom"), cancellationToken: ct);

        using var response = await host.SendSignedAsync(InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "tok-3", 1, "list").ToJsonString(), cancellationToken: ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(4, body["type"]!.GetValue<int>());
        Assert.Equal(64, body["data"]!["flags"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_Autocomplete_ReturnsAtMost25Choices()
    {
        var ct = TestContext.Current.CancellationToken;
        string? partial = null;
        await using var host = await InteractionsHost.StartAsync((i, r, c) =>
        {
            partial = i.FocusedOption?.Value as string;
            return r.RespondAsync(InteractionResponse.Autocomplete(Enumerable.Range(0, 40).Select(n => AutocompleteChoice.String("img" + n, "img" + n))), c);
        }, cancellationToken: ct);

        using var response = await host.SendSignedAsync(InteractionPayloads.Autocomplete(host.Rest.ApplicationId, "tok-4", 1, "create", "image", "deb").ToJsonString(), cancellationToken: ct);

        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(8, body["type"]!.GetValue<int>());
        Assert.Equal(25, body["data"]!["choices"]!.AsArray().Count);
        Assert.Equal("deb", partial);
    }

    [Fact]
    public async Task Post_ButtonPress_UpdateMessageRespondsType7WithCustomIdSeen()
    {
        var ct = TestContext.Current.CancellationToken;
        string? customId = null;
        await using var host = await InteractionsHost.StartAsync((i, r, c) =>
        {
            customId = i.CustomId;
            return r.RespondAsync(InteractionResponse.Update(new DiscordMessage { Content = "destroyed", Components = [] }), c);
        }, cancellationToken: ct);

        using var response = await host.SendSignedAsync(InteractionPayloads.Button(host.Rest.ApplicationId, "tok-5", 1, "destroy:dev").ToJsonString(), cancellationToken: ct);

        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(7, body["type"]!.GetValue<int>());
        Assert.Equal("destroy:dev", customId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Post_HandlerSilentPastBudget_AcknowledgedInsideThreeSecondsAndLateReplyEditsOriginal(bool component)
    {
        // Discord's 3 s run from when it sent the request; the endpoint answers for a slow handler at 2.3 s (type 5, or
        // 6 for a component), and the handler's late reply becomes an edit of @original.
        var ct = TestContext.Current.CancellationToken;
        var time = new TimerRecordingTimeProvider(DateTimeOffset.UtcNow);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var replied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await InteractionsHost.StartAsync(async (i, r, c) =>
        {
            started.SetResult();
            await release.Task;
            await r.RespondAsync(component ? InteractionResponse.Update(DiscordMessage.Text("late")) : InteractionResponse.Message("late"), c);
            replied.SetResult();
        }, time, cancellationToken: ct);
        var payload = component
            ? InteractionPayloads.Button(host.Rest.ApplicationId, "tok-6", 1, "dh:x")
            : InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "tok-6", 1, "create");
        var interactionId = ulong.Parse(payload["id"]!.GetValue<string>(), CultureInfo.InvariantCulture);

        var pending = host.Rest.SendHttpInteractionAsync(host.Http, host.Endpoint, host.Signer, payload, ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        // The endpoint arms its budget just after starting the handler: a move of the clock before that is lost (it was,
        // in CI on a busy machine, and the response never came).
        await time.WaitForTimerAsync(InteractionEndpoint.ResponseBudget);
        Assert.False(pending.IsCompleted);
        time.Advance(InteractionEndpoint.ResponseBudget);
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10), ct);
        release.SetResult();
        await replied.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(component ? 6 : 5, host.Rest.GetCallback(interactionId)!["type"]!.GetValue<int>());
        Assert.Equal(0, host.Rest.LateCallbacks);
        Assert.Equal("late", host.Rest.GetOriginal("tok-6")!["content"]!.GetValue<string>());
        Assert.Equal([200], host.Rest.RequestsTo(Routes.EditOriginal).Select(r => r.Status));
        Assert.Empty(host.Rest.RequestsTo(Routes.InteractionCallback));
    }

    /// <summary>A fake clock on a day unlike the real one, so that only an interaction's snowflake can give its age.</summary>
    private static Microsoft.Extensions.Time.Testing.FakeTimeProvider ClockOnAnotherDay() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>
    /// A slash command Discord sends at the fake clock's now, told to the loopback server. Its snowflake is made at that
    /// now (the tests use a day unlike the real one, so only the snowflake can give its age), not at the real now:
    /// starting the fixture took seconds on a starved machine.
    /// </summary>
    private static Interaction SentNow(RestFixture f, TimeProvider time, string token, string command)
    {
        var payload = InteractionPayloads.SlashCommand(f.Server.ApplicationId, token, 1, command);
        payload["id"] = Interaction.SnowflakeAt(time.GetUtcNow()).ToString();
        f.Server.ObserveInteraction(payload);
        return WireMapper.Parse(System.Text.Json.JsonSerializer.Deserialize(payload.ToJsonString(), Dockhand.Discord.JsonModels.DiscordJsonContext.Default.JsonInteraction))!;
    }

    [Fact]
    public async Task Responder_After15Minutes_ThrowsTokenExpiredWithoutCallingDiscord()
    {
        // Receiving and Responding: "Interaction tokens are valid for 15 minutes"; later calls are 401 (50027), which
        // count toward the invalid-request ban. The expiry comes from the interaction's snowflake.
        var ct = TestContext.Current.CancellationToken;
        var time = ClockOnAnotherDay();
        await using var f = await RestFixture.StartAsync(time: time, cancellationToken: ct);
        var interaction = SentNow(f, time, "tok-15", "create");
        var responder = new RestInteractionResponder(interaction, f.Client);
        await responder.RespondAsync(InteractionResponse.Deferred(), ct);
        await responder.EditOriginalAsync(DiscordMessage.Text("14 minutes in"), ct);

        time.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(0.5));
        await Assert.ThrowsAsync<InteractionTokenExpiredException>(() => responder.EditOriginalAsync(DiscordMessage.Text("too late"), ct));
        var direct = await Assert.ThrowsAsync<Dockhand.Discord.Rest.DiscordRestException>(() =>
            f.Client.EditOriginalResponseAsync(f.Server.ApplicationId, "tok-15", DiscordMessage.Text("too late"), ct));

        Assert.Equal((HttpStatusCode.Unauthorized, 50027), (direct.Status, direct.Code));
        Assert.Equal([200, 401], f.Server.RequestsTo(Routes.EditOriginal).Select(r => r.Status)); // the responder sent nothing
        Assert.InRange(interaction.TokenExpiresAt - time.GetUtcNow(), TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task HttpResponder_EditReachesDiscordBeforeTheHttpBody_RetriedUntilDiscordHasIt()
    {
        // Discord learns the deferral from the HTTP body, on another connection than the edit: the edit can arrive
        // first and get 404 (10015).
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var (interaction, responder) = HttpResponder(f, "tok-early");
        responder.MarkWritten(); // the endpoint has written the body; the server has not read it yet
        await responder.RespondAsync(InteractionResponse.Deferred(), ct);

        var edit = responder.EditOriginalAsync(DiscordMessage.Text("done"), ct);
        await Eventually.TrueAsync(() => f.Server.RequestsTo(Routes.EditOriginal).Count > 0, "the early edit of @original", ct);
        f.Server.AcceptInteractionResponse(interaction.Id, "tok-early", """{"type":5}""");
        var sent = await edit.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.Equal("done", sent.Content);
        Assert.Equal(404, f.Server.RequestsTo(Routes.EditOriginal)[0].Status);
        Assert.Equal(200, f.Server.RequestsTo(Routes.EditOriginal)[^1].Status);
    }

    [Fact]
    public async Task HttpResponder_TheHttpBodyCouldNotBeWritten_FirstResponseThrowsTooLate()
    {
        // Discord waits 3 s for the HTTP response and then closes the request: the endpoint's write of the body fails,
        // and a create waiting for its deferral must not go on as if Discord had taken it.
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var (_, responder) = HttpResponder(f, "tok-gone");
        responder.MarkWritten(new OperationCanceledException("the request was aborted"));

        await Assert.ThrowsAsync<InteractionTokenExpiredException>(() => responder.RespondAsync(InteractionResponse.Deferred(), ct));

        Assert.False(responder.HasResponded);
        Assert.True(responder.MissedDeadline);
        Assert.Empty(f.Server.RequestsTo(Routes.InteractionCallback)); // over HTTP the first response is the body, never a callback
    }

    /// <summary>The HTTP transport's responder for a /create interaction with <paramref name="token"/>, as the endpoint makes it.</summary>
    private static (Interaction Interaction, HttpInteractionResponder Responder) HttpResponder(RestFixture f, string token)
    {
        var payload = InteractionPayloads.SlashCommand(f.Server.ApplicationId, token, 1, "create");
        var interaction = WireMapper.Parse(System.Text.Json.JsonSerializer.Deserialize(payload.ToJsonString(), Dockhand.Discord.JsonModels.DiscordJsonContext.Default.JsonInteraction))!;
        return (interaction, new HttpInteractionResponder(interaction, f.Client, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
    }

    [Fact]
    public async Task Callback_MoreThanThreeSecondsAfterTheInteraction_Answers404UnknownInteraction()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var f = await RestFixture.StartAsync(time: time, cancellationToken: ct);
        var payload = InteractionPayloads.SlashCommand(f.Server.ApplicationId, "tok-late", 1, "create");
        f.Server.ObserveInteraction(payload);
        time.Advance(TimeSpan.FromSeconds(3.1));

        var e = await Assert.ThrowsAsync<Dockhand.Discord.Rest.DiscordRestException>(() => f.Client.CreateInteractionResponseAsync(
            ulong.Parse(payload["id"]!.GetValue<string>(), CultureInfo.InvariantCulture), "tok-late", InteractionResponse.Deferred(), ct));

        Assert.Equal(HttpStatusCode.NotFound, e.Status);
        Assert.Equal(10062, e.Code);
        Assert.Equal(1, f.Server.LateCallbacks);
    }

    [Fact]
    public async Task Dispatch_GatewayAnswerPastThreeSeconds_SendsNothingMoreAndLogsOneWarning()
    {
        // Discord refuses a first response that comes more than 3 s after the interaction (404, 10062) and the token
        // dies with it: the fallback reply would be refused too, and every refusal counts toward the invalid-request ban.
        var ct = TestContext.Current.CancellationToken;
        var time = ClockOnAnotherDay();
        await using var f = await RestFixture.StartAsync(time: time, cancellationToken: ct);
        var interaction = SentNow(f, time, "tok-slow", "status");
        var services = new ServiceCollection();
        services.AddLogging();
        Exception? seenByHandler = null;
        services.AddSingleton<IInteractionHandler>(new DelegateHandler(async (i, r, c) =>
        {
            time.Advance(TimeSpan.FromSeconds(3.5)); // the handler was slow
            try
            {
                await r.RespondAsync(InteractionResponse.Message("too late"), c);
            }
            catch (Exception e)
            {
                seenByHandler = e;
                throw;
            }
        }));
        await using var provider = services.BuildServiceProvider();
        var logger = new Microsoft.Extensions.Logging.Testing.FakeLogger<InteractionDispatcher>();
        var dispatcher = new InteractionDispatcher(provider.GetRequiredService<IServiceScopeFactory>(),
            new Dockhand.Discord.Rest.DiscordApplicationIdSource(f.Client, Microsoft.Extensions.Options.Options.Create(new DiscordOptions())), logger);

        await dispatcher.DispatchAsync(interaction, new RestInteractionResponder(interaction, f.Client)).WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.IsType<InteractionTokenExpiredException>(seenByHandler);
        Assert.Equal([404], f.Server.RequestsTo(Routes.InteractionCallback).Select(r => r.Status)); // no fallback after it
        var warning = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Equal(3126, warning.Id.Id);
        Assert.Null(warning.Exception);
    }

    [Fact]
    public async Task Respond_GatewayAnswerPastThreeSeconds_MarksTheClaimSettled()
    {
        // With several processes on one gateway session, an unanswered claim is handled again after a takeover. One that
        // Discord refused as too late can never be answered: trying again would only earn one more 404.
        var ct = TestContext.Current.CancellationToken;
        var time = ClockOnAnotherDay();
        await using var f = await RestFixture.StartAsync(time: time, cancellationToken: ct);
        var interaction = SentNow(f, time, "tok-claimed", "status");
        var claims = new RecordingClaims();
        var responder = new RestInteractionResponder(interaction, f.Client, claims);
        time.Advance(TimeSpan.FromSeconds(3.5));

        await Assert.ThrowsAsync<InteractionTokenExpiredException>(() => responder.RespondAsync(InteractionResponse.Message("too late"), ct));

        Assert.Equal([interaction.Id], claims.Settled);
    }

    /// <summary>Claims that record which interactions were marked settled.</summary>
    private sealed class RecordingClaims : IInteractionClaims
    {
        public List<Snowflake> Settled { get; } = [];

        public Task<bool> TryClaimAsync(Snowflake interactionId, CancellationToken cancellationToken = default) => Task.FromResult(true);

        public Task MarkAnsweredAsync(Snowflake interactionId, CancellationToken cancellationToken = default)
        {
            lock (Settled)
                Settled.Add(interactionId);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task BothTransports_AtOnce_SameHandlerAnswersEach()
    {
        var ct = TestContext.Current.CancellationToken;
        var handled = new System.Collections.Concurrent.ConcurrentBag<string>();
        await using var host = await InteractionsHost.StartAsync(async (i, r, c) =>
        {
            handled.Add(i.Token);
            await r.RespondAsync(InteractionResponse.Message("hi " + i.Token), c);
        }, cancellationToken: ct);
        var bridge = host.App.Services.GetServices<Dockhand.Discord.Gateway.IGatewayDispatchHandler>().Single();
        var gatewayPayload = InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "via-gateway", 1, "list");
        var gatewayId = ulong.Parse(gatewayPayload["id"]!.GetValue<string>(), CultureInfo.InvariantCulture);

        using var doc = System.Text.Json.JsonDocument.Parse(gatewayPayload.ToJsonString());
        var http = host.SendSignedAsync(InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "via-http", 2, "list").ToJsonString(), cancellationToken: ct);
        await bridge.HandleDispatchAsync("INTERACTION_CREATE", doc.RootElement, ct);
        using var response = await http;

        Assert.Contains("hi via-http", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        var callback = await host.Rest.WaitForCallbackAsync(gatewayId, TimeSpan.FromSeconds(10), ct);
        Assert.Equal("hi via-gateway", callback["data"]!["content"]!.GetValue<string>());
        Assert.Equal(2, handled.Count);
    }
}
