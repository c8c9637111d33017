using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Dockhand.Discord.Testing.Gateway;
using Dockhand.Tests.Deployment;
using Dockhand.Discord.Testing.Rest;

namespace Dockhand.Tests.ScaleOut;

/// <summary>
/// Two real <c>dockhand run</c> processes on one PostgreSQL database (a database of its own per test), the loopback
/// Discord REST server and gateway, and the shared engine (what a test creates carries dockhand.test=&lt;run&gt; and
/// is removed by it). Issue 17 §4: one gateway connection at a time, a takeover after SIGKILL that answers every interaction
/// still open exactly once (Discord's 3 s for a first answer cannot wait for a takeover), one slash-command upload between the two, and one container per user across both processes.
/// </summary>
public sealed class TwoInstancesTests : IClassFixture<PostgresServer>, IAsyncLifetime
{
    private const ulong User = 900_000_000_000_000_101;
    private readonly PostgresServer _postgres;
    private readonly string _run = "two-" + Guid.NewGuid().ToString("N")[..10];
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-two-").FullName;
    private string _database = "";

    public TwoInstancesTests(PostgresServer postgres) => _postgres = postgres;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _database = await _postgres.CreateDatabaseAsync(Ct);

    public async ValueTask DisposeAsync()
    {
        // Containers first, then what they used: the home volumes and the instance's own network (each network holds
        // one of the engine's few address pools, so one left behind per run soon runs the engine out of them).
        foreach (var (list, remove) in new (string[] List, string[] Remove)[]
        {
            (["ps", "-aq"], ["rm", "-f"]),
            (["volume", "ls", "-q"], ["volume", "rm", "-f"]),
            (["network", "ls", "-q"], ["network", "rm"]),
        })
        {
            var listed = await Shell.RunAsync("docker", [.. list, "--filter", "label=dockhand.test=" + _run]);
            var ids = listed.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (ids.Length > 0)
                await Shell.RunAsync("docker", [.. remove, .. ids]);
        }
        await _postgres.DropDatabaseAsync(_database);
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Run_HolderKilledMidStream_OtherTakesOverAnswersWhatIsStillOpenOnceAndTriesTheLostOnlyOnce()
    {
        await using var gateway = new LoopbackDiscordGateway();
        await gateway.StartAsync(Ct);
        await using var rest = await LoopbackDiscordRestServer.StartAsync(token: gateway.Options.Token, cancellationToken: Ct);
        rest.GatewayUrl = gateway.Url;
        await using var a = StartInstance("a", rest, gateway, out _);
        await a.WaitForOutputAsync("This process now leads");
        await gateway.WaitForSessionAsync(cancellationToken: Ct);
        await using var b = StartInstance("b", rest, gateway, out var bUrl);
        await b.WaitHealthyAsync(bUrl);
        await b.WaitForOutputAsync("Another Dockhand process leads");
        // Exactly one process holds the gateway: B stands by without connecting.
        Assert.Single(gateway.Connections);

        // One interaction every 100 ms; A is killed before the 16th. B is frozen over the kill and thawed only after
        // Discord's 3 s for the interactions sent right after it have run out, so some are certainly lost (as they are
        // whenever a takeover takes longer than 3 s: a loaded host, a slow database). Sending goes on until B has
        // resumed A's session and ten more have been sent to B.
        var sent = new List<(ulong Id, string Token, DateTimeOffset At)>();
        var killedAt = DateTimeOffset.MaxValue;
        var thawedAt = DateTimeOffset.MaxValue;
        var frozen = false;
        DateTimeOffset? resumedAt = null;
        var sentAfterResume = 0;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (sentAfterResume < 10)
        {
            if (sent.Count == 15)
            {
                await b.FreezeAsync();
                frozen = true;
                await a.KillAsync();
                killedAt = DateTimeOffset.UtcNow;
            }
            if (frozen && DateTimeOffset.UtcNow - killedAt > LoopbackDiscordRestServer.InitialResponseDeadline + TimeSpan.FromMilliseconds(300))
            {
                await b.ThawAsync();
                thawedAt = DateTimeOffset.UtcNow;
                frozen = false;
            }
            resumedAt ??= gateway.ReceivedOp(6) is [var resume, ..] ? resume.ReceivedAt : null;
            Assert.True(sent.Count < 200, "B did not resume A's session within 15 s of being thawed");
            var id = InteractionPayloads.NextInteractionId();
            var token = "takeover-" + id.ToString(CultureInfo.InvariantCulture);
            var payload = InteractionPayloads.SlashCommand(rest.ApplicationId, token, User, "status", guildId: 42);
            payload["id"] = id.ToString(CultureInfo.InvariantCulture);
            rest.ObserveInteraction(payload);
            sent.Add((id, token, DateTimeOffset.UtcNow));
            await gateway.DispatchInteractionAsync(payload.ToJsonString(), Ct);
            if (resumedAt is not null)
                sentAfterResume++;
            await pace.WaitForNextTickAsync(Ct);
        }
        var takeover = resumedAt!.Value - thawedAt;

        // Settled: each interaction has had its answer tried, by A before the kill or by B (B gets those A had not
        // answered again, replayed from the checkpoint).
        var callbacks = new List<RecordedRequest>();
        try
        {
            await gateway.WaitUntilAsync(_ =>
            {
                callbacks = [.. rest.RequestsTo(LoopbackDiscordRestServer.Routes.InteractionCallback)];
                return sent.All(s => callbacks.Any(r => r.Path.Contains(s.Token, StringComparison.Ordinal) && r.Status is 204 or 404));
            }, TimeSpan.FromSeconds(30), Ct);
        }
        catch (TimeoutException)
        {
            var untried = sent.Select((s, i) => (s.Token, i)).Where(x => !callbacks.Any(r => r.Path.Contains(x.Token, StringComparison.Ordinal))).Select(x => x.i);
            Assert.Fail($"Interactions {string.Join(", ", untried)} (of 0-{sent.Count - 1}; A was killed before 15, at {killedAt:ss.fff}; B was thawed at {thawedAt:ss.fff} and resumed "
                + $"{takeover.TotalSeconds:F1} s after that) got no answer within 30 s. A's output, last 15 lines:\n{string.Join('\n', a.Output.Split('\n').TakeLast(15))}\n"
                + $"B's output, last 15 lines:\n{string.Join('\n', b.Output.Split('\n').TakeLast(15))}");
        }

        Assert.True(takeover < TimeSpan.FromSeconds(10), $"B resumed {takeover.TotalSeconds:F1} s after it was thawed");
        Assert.Single(gateway.ReceivedOp(2)); // B resumed A's session, it did not identify a new one
        List<RecordedRequest> To(string token) => [.. callbacks.Where(r => r.Path.Contains(token, StringComparison.Ordinal))];
        Assert.All(sent, s => Assert.True(To(s.Token).Count(r => r.Status == 204) <= 1, $"interaction {s.Id} was answered twice"));
        // Discord allows 3 s for the first answer. One sent to B after it resumed is answered in time.
        Assert.All(sent.Where(s => s.At > resumedAt), s => Assert.Single(To(s.Token), r => r.Status == 204));
        // One whose 3 s ran out while nobody held the gateway is lost: Discord shows "This interaction failed". B tries
        // it once (Discord answers 404, 10062) and sends nothing more after it (no generic reply, no fallback).
        var lost = sent.Where(s => !To(s.Token).Any(r => r.Status == 204)).ToList();
        Assert.Contains(lost, s => s.Id == sent[15].Id); // sent after the kill, while B was frozen
        Assert.All(lost, s =>
        {
            Assert.InRange(s.At, killedAt - LoopbackDiscordRestServer.InitialResponseDeadline, resumedAt.Value);
            Assert.Equal([404], To(s.Token).Select(r => r.Status));
        });
        Assert.Equal(lost.Count, rest.LateCallbacks);
        // A callback A had sent as it was killed, before it could record the answer, is sent again by B and refused by
        // Discord (400, 40060 "already acknowledged"): only for interactions A was given before it died, and only the
        // few whose answers were in flight then (one interaction every 100 ms; an answer takes well under 500 ms even
        // on a loaded machine). Without the claims B would answer again everything replayed from the checkpoint, which
        // lags by 3 s: about 30.
        var duplicates = callbacks.Where(r => r.Status == 400).ToList();
        var givenToA = sent.Take(15).Select(s => s.Token).ToList();
        Assert.All(duplicates, r => Assert.Contains(givenToA, t => r.Path.Contains(t, StringComparison.Ordinal)));
        Assert.True(duplicates.Count <= 5, $"{duplicates.Count} interactions were answered twice");
        Assert.All(callbacks, r => Assert.Contains(r.Status, new[] { 204, 400, 404 }));
    }

    [Fact]
    public async Task Run_TwoStartTogether_OneCommandUploadAndTheNextHolderFindsThemInPlace()
    {
        await using var gateway = new LoopbackDiscordGateway();
        await gateway.StartAsync(Ct);
        await using var rest = await LoopbackDiscordRestServer.StartAsync(token: gateway.Options.Token, cancellationToken: Ct);
        rest.GatewayUrl = gateway.Url;
        await using var both = await StartBothHealthyAsync(rest, gateway);
        var (a, aUrl, b, bUrl) = both;
        // Whichever leads checks the commands: Discord holds none yet, so it uploads them.
        await WaitUntilAsync(() => a.Output.Contains("[3140]", StringComparison.Ordinal) || b.Output.Contains("[3140]", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var (holder, standby) = a.Output.Contains("[3140]", StringComparison.Ordinal) ? (a, b) : (b, a);
        Assert.Equal(1, rest.CommandOverwriteCount);
        Assert.Single(rest.RequestsTo(LoopbackDiscordRestServer.Routes.GetGlobalCommands)); // the standby has not asked

        var killedAt = DateTimeOffset.UtcNow;
        await holder.KillAsync();
        await standby.WaitForOutputAsync("Slash commands up to date; not uploaded");

        // One upload between the two; the new holder asked once its turn came, after the kill, and found them in place.
        Assert.Equal(1, rest.CommandOverwriteCount);
        var checks = rest.RequestsTo(LoopbackDiscordRestServer.Routes.GetGlobalCommands);
        Assert.Equal(2, checks.Count);
        Assert.True(checks[1].At >= killedAt, $"the standby asked for the commands at {checks[1].At:HH:mm:ss.fff}, before the holder was killed at {killedAt:HH:mm:ss.fff}");
    }

    [Fact]
    public async Task Create_TwentyAtOnceForTenUsersOverBothProcesses_MakesExactlyTen()
    {
        await using var rest = await LoopbackDiscordRestServer.StartAsync(cancellationToken: Ct);
        using var signer = new InteractionSigner();
        await using var both = await StartBothHealthyAsync(rest, gateway: null, signer.PublicKeyHex);
        var (a, aUrl, b, bUrl) = both;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };

        var users = Enumerable.Range(0, 10).Select(i => User + 1 + (ulong)i).ToList();
        var tokens = new List<string>();
        var sends = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 20; i++)
        {
            var owner = users[i % 10];
            var token = $"create-{i}-{_run}";
            tokens.Add(token);
            var payload = InteractionPayloads.SlashCommand(rest.ApplicationId, token, User, "create",
            [
                new TestOption("user", 6, owner.ToString(CultureInfo.InvariantCulture), ResolvedUsername: "user" + (i % 10)),
                new TestOption("container_name", 3, "box" + (i % 10)),
            ], guildId: 42);
            // The two requests for one user go to different processes.
            sends.Add(rest.SendHttpInteractionAsync(http, new Uri(i < 10 ? aUrl : bUrl, "/interactions"), signer, payload, Ct));
        }
        foreach (var response in await Task.WhenAll(sends))
            using (response)
                Assert.Equal(200, (int)response.StatusCode);
        await WaitUntilAsync(() => tokens.All(t => rest.GetOriginal(t)?["content"]?.GetValue<string>() is { Length: > 0 }), TimeSpan.FromSeconds(120),
            () => $"unanswered: {string.Join("; ", tokens.Where(t => rest.GetOriginal(t)?["content"]?.GetValue<string>() is not { Length: > 0 }).Select(t => $"{t} [{string.Join(", ", rest.Requests.Where(r => r.Path.Contains(t, StringComparison.Ordinal)).Select(r => $"{r.Method} {r.Route} {r.Status}"))}]"))}; "
                  + $"{rest.LateCallbacks} HTTP answers came after Discord's 3 s");

        var replies = tokens.Select(t => rest.GetOriginal(t)!["content"]!.GetValue<string>()).ToList();
        Assert.Equal(10, replies.Count(r => r.StartsWith("Created", StringComparison.Ordinal)));
        var listed = await Shell.RunAsync("docker", ["ps", "-aq", "--filter", "label=dockhand.test=" + _run]);
        Assert.Equal(10, listed.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Terminal_LinkFromARedeemedAtB_BKilled_PageGetsANewShellOnAAndIsTold()
    {
        await using var rest = await LoopbackDiscordRestServer.StartAsync(cancellationToken: Ct);
        using var signer = new InteractionSigner();
        await using var both = await StartBothHealthyAsync(rest, gateway: null, signer.PublicKeyHex);
        var (a, aUrl, b, bUrl) = both;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var owner = User + 50;
        var create = InteractionPayloads.SlashCommand(rest.ApplicationId, "create-" + _run, User, "create",
            [new TestOption("user", 6, owner.ToString(CultureInfo.InvariantCulture), ResolvedUsername: "termuser"), new TestOption("container_name", 3, "termbox")], guildId: 42);
        using (var created = await rest.SendHttpInteractionAsync(http, new Uri(aUrl, "/interactions"), signer, create, Ct))
            Assert.Equal(200, (int)created.StatusCode);
        await WaitUntilAsync(() => rest.GetOriginal("create-" + _run)?["content"]?.GetValue<string>() is { Length: > 0 }, TimeSpan.FromSeconds(120));

        // /terminal is answered by A: the link names A's address (its TERMINAL_SERVICE_URL).
        var ask = InteractionPayloads.SlashCommand(rest.ApplicationId, "terminal-" + _run, owner, "terminal", guildId: 42);
        using (var asked = await rest.SendHttpInteractionAsync(http, new Uri(aUrl, "/interactions"), signer, ask, Ct))
            Assert.Equal(200, (int)asked.StatusCode);
        await WaitUntilAsync(() => rest.GetOriginal("terminal-" + _run)?["components"] is JsonArray { Count: > 0 }, TimeSpan.FromSeconds(60));
        var link = new Uri(rest.GetOriginal("terminal-" + _run)!["components"]![0]!["components"]![0]!["url"]!.GetValue<string>());
        Assert.Equal(aUrl.Authority, link.Authority);

        // The page opens at B (a load balancer chose it): the link is good there too.
        var cookies = new System.Net.CookieContainer();
        using (var handler = new HttpClientHandler { CookieContainer = cookies, UseCookies = true })
        using (var browser = new HttpClient(handler))
        using (var redeem = new HttpRequestMessage(HttpMethod.Post, new Uri(bUrl, link.AbsolutePath + "/session")))
        {
            redeem.Content = new StringContent(new JsonObject { ["token"] = link.Query["?token=".Length..] }.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
            redeem.Headers.Add("Origin", bUrl.GetLeftPart(UriPartial.Authority));
            using var redeemed = await browser.SendAsync(redeem, Ct);
            Assert.Equal(200, (int)redeemed.StatusCode);
        }
        await using (var atB = await TerminalSocket.ConnectAsync(new Uri(bUrl, link.AbsolutePath), cookies, Ct))
        {
            Assert.Null((await atB.WaitAttachedAsync(Ct)).Notice);
            await atB.SendAsync("X=remembered; echo at-b-$((6*7))\r", Ct);
            await atB.WaitForOutputAsync("at-b-42", Ct);
        }
        await b.KillAsync();

        // The page reloads and reaches A: a new shell, and the page is told why its old one is gone.
        await using var atA = await TerminalSocket.ConnectAsync(new Uri(aUrl, link.AbsolutePath), cookies, Ct);
        var attached = await atA.WaitAttachedAsync(Ct);
        await atA.SendAsync("echo \"[$X]\" at-a-$((6*7))\r", Ct);
        await atA.WaitForOutputAsync("[] at-a-42", Ct);
        Assert.Contains("This is a new shell", attached.Notice, StringComparison.Ordinal);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string>? whatWasSeen = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed >= timeout)
                Assert.Fail($"the condition did not hold within {timeout.TotalSeconds} s" + (whatWasSeen is null ? "" : ": " + whatWasSeen()));
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>Two processes, "a" and "b", on this test's database, both answering /health; disposed together.</summary>
    private sealed class InstancePair(DockhandChild a, Uri aUrl, DockhandChild b, Uri bUrl) : IAsyncDisposable
    {
        public void Deconstruct(out DockhandChild first, out Uri firstUrl, out DockhandChild second, out Uri secondUrl)
            => (first, firstUrl, second, secondUrl) = (a, aUrl, b, bUrl);

        public async ValueTask DisposeAsync()
        {
            await b.DisposeAsync();
            await a.DisposeAsync();
        }
    }

    private async Task<InstancePair> StartBothHealthyAsync(LoopbackDiscordRestServer rest, LoopbackDiscordGateway? gateway, string? publicKey = null)
    {
        var a = StartInstance("a", rest, gateway, out var aUrl, publicKey);
        var b = StartInstance("b", rest, gateway, out var bUrl, publicKey);
        var both = new InstancePair(a, aUrl, b, bUrl);
        try
        {
            await a.WaitHealthyAsync(aUrl);
            await b.WaitHealthyAsync(bUrl);
            return both;
        }
        catch
        {
            await both.DisposeAsync();
            throw;
        }
    }

    private DockhandChild StartInstance(string name, LoopbackDiscordRestServer rest, LoopbackDiscordGateway? gateway, out Uri url, string? publicKey = null)
    {
        var port = DockhandChild.FreeLoopbackPort();
        url = new Uri($"http://127.0.0.1:{port}");
        var directory = Path.Combine(_directory, name);
        Directory.CreateDirectory(directory);
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = _database,
            ["DATABASE_PATH"] = Path.Combine(directory, "containers.db"),
            ["LISTEN_URLS"] = url.AbsoluteUri.TrimEnd('/'),
            ["TERMINAL_SERVICE_URL"] = url.AbsoluteUri.TrimEnd('/'),
            ["METRICS_URLS"] = "",
            ["AUTHORIZED_USERS"] = User.ToString(CultureInfo.InvariantCulture),
            ["DEFAULT_IMAGE"] = "dockhand-test/busybox:1",
            ["CONTAINER_EXTRA_LABELS"] = "dockhand.test=" + _run,
            ["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri,
            ["DISCORD_APPLICATION_ID"] = rest.ApplicationId.ToString(CultureInfo.InvariantCulture),
            ["DISCORD_PUBLIC_KEY"] = publicKey,
            ["DISCORD_TOKEN"] = gateway is null ? null : gateway.Options.Token,
            ["DISCORD_GATEWAY_URL"] = gateway?.Url.AbsoluteUri,
        };
        return DockhandChild.Start(directory, settings, executable: null, "run");
    }
}
