using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Observability;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Tests.Operations;

/// <summary>GET /metrics on METRICS_URLS, with the whole host doing real work: the engine, the loopback Discord servers, a terminal.</summary>
public sealed partial class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Scrape_AfterCreateTerminalRateLimitAndGatewayDrop_SeriesMoveAndHoldNoSecret()
    {
        await using var host = await BotHost.StartAsync(cancellationToken: Ct);
        var metricsUrl = new Uri(host.App.Services.GetRequiredService<MetricsServer>().Urls.Single());
        Assert.NotEqual(host.BaseAddress.Port, metricsUrl.Port);
        using var scraper = new HttpClient { BaseAddress = metricsUrl, Timeout = BotHost.Timeout };
        var before = await ScrapeAsync(scraper);
        Assert.True(before.Value("process_cpu_seconds_total") > 0, "no process metrics");
        Assert.True(before.Has("dotnet_total_memory_bytes"), "no runtime metrics");
        Assert.Equal(0, before.Value("dockhand_containers", ("state", "running")));
        var gateway = host.Gateway!;
        var resumesBefore = gateway.ReceivedOp(6).Count;

        // A /create through the gateway, its first REST call answered with a 429 (the client waits and retries).
        host.Rest.EnqueueRateLimit("*", TimeSpan.FromMilliseconds(200), RateLimitScope.User);
        var owner = BotHost.NewUser();
        var create = await host.SendAsync(host.Slash(BotHost.Admin, "create", BotHost.UserOption(owner), BotHost.StringOption("container_name", "metrics-" + owner)), Ct);
        Assert.StartsWith($"Created `metrics-{owner}`", BotHost.Content(await host.WaitForEditAsync(create, Ct)), StringComparison.Ordinal);

        // A terminal: link, session, input and output over the WebSocket.
        var terminal = await host.SendAsync(host.Slash(owner, "terminal"), Ct);
        var edited = await host.WaitForEditAsync(terminal, Ct);
        var link = new Uri(edited["components"]!.AsArray().Single()!["components"]!.AsArray().Single()!["url"]!.GetValue<string>());
        var terminalToken = link.Query["?token=".Length..];
        using var handler = new HttpClientHandler { UseCookies = false };
        using var browser = new HttpClient(handler) { BaseAddress = host.BaseAddress };
        using var redeem = new HttpRequestMessage(HttpMethod.Post, new Uri(link.AbsolutePath + "/session", UriKind.Relative))
        {
            Content = new StringContent($"{{\"token\":\"{terminalToken}\"}}", Encoding.UTF8, "application/json"),
        };
        redeem.Headers.Add("Origin", host.BaseAddress.GetLeftPart(UriPartial.Authority));
        using var session = await browser.SendAsync(redeem, Ct);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        var cookie = session.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Cookie", cookie);
        socket.Options.SetRequestHeader("Origin", host.BaseAddress.GetLeftPart(UriPartial.Authority));
        await socket.ConnectAsync(new UriBuilder(host.BaseAddress) { Scheme = "ws", Path = link.AbsolutePath + "/ws" }.Uri, Ct);
        await socket.SendAsync(Encoding.UTF8.GetBytes("echo metrics\n"), WebSocketMessageType.Binary, true, Ct);

        // The gateway drops; the client resumes.
        await gateway.DropConnectionsAsync(Ct);
        await gateway.WaitUntilAsync(g => g.ReceivedOp(6).Count > resumesBefore, BotHost.Timeout, Ct);

        var after = await WaitForScrapeAsync(scraper, s =>
            s.Value("dockhand_containers", ("state", "running")) == 1
            && s.Value("dockhand_terminal_bytes_total", ("direction", "out")) > 0
            && s.Value("dockhand_gateway_reconnects_total", ("kind", "resume")) >= 1);
        Assert.Equal(1, after.Value("dockhand_operations_total", ("operation", "create"), ("outcome", "created")) - before.Value("dockhand_operations_total", ("operation", "create"), ("outcome", "created")));
        Assert.Equal(1, after.Value("dockhand_create_duration_seconds_count") - before.Value("dockhand_create_duration_seconds_count"));
        Assert.True(after.Value("dockhand_create_duration_seconds_sum") > 0);
        Assert.True(after.Has("dockhand_create_duration_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(1, after.Value("dockhand_terminal_sessions"));
        Assert.True(after.Value("dockhand_terminal_bytes_total", ("direction", "in")) >= "echo metrics\n".Length);
        Assert.Equal(2, after.Value("dockhand_interactions_total", ("transport", "gateway"), ("kind", "command"), ("outcome", "answered")));
        Assert.Equal(1, after.Value("dockhand_discord_rate_limited_total", ("scope", "user")));
        Assert.Equal(1, after.Value("dockhand_discord_requests_total", ("status", "429")));
        var requests = after.Dump("dockhand_discord_requests_total");
        Assert.True(after.Value("dockhand_discord_requests_total", ("route", "POST /interactions/{interaction_id}/{interaction_token}/callback"), ("status", "204")) >= 2, requests);
        Assert.True(after.Value("dockhand_discord_requests_total", ("route", "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"), ("status", "200")) >= 2, requests);
        Assert.True(after.Has("dockhand_engine_errors_total") is false || after.Value("dockhand_engine_errors_total") == 0);
        // Every route label is a template: no id, no token.
        Assert.All(after.Series.Where(s => s.Name == "dockhand_discord_requests_total"), s => Assert.DoesNotMatch("[0-9]{6,}", s.Labels["route"]));

        // Nothing secret in any series: not the interaction tokens, the bot token, the terminal token or session cookie.
        foreach (var secret in new[] { create.Token, terminal.Token, host.Rest.Token, terminalToken, cookie.Split('=', 2)[1] })
            Assert.DoesNotContain(secret, after.Text, StringComparison.Ordinal);

        socket.Abort();
    }

    [Fact]
    public async Task Get_MetricsOnListenUrls_Is404()
    {
        await using var host = await BotHost.StartAsync(withGateway: false, cancellationToken: Ct);

        using var response = await host.Http.GetAsync(new Uri("/metrics", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Start_EmptyMetricsUrls_ServesNoMetrics()
    {
        await using var host = await BotHost.StartAsync(withGateway: false, extra: new Dictionary<string, string?> { [MetricsServer.UrlsKey] = "" }, cancellationToken: Ct);

        Assert.Null(host.App.Services.GetService<MetricsServer>());
    }

    private static async Task<Scrape> ScrapeAsync(HttpClient scraper)
    {
        using var response = await scraper.GetAsync(new Uri("/metrics", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return Scrape.Parse(await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task<Scrape> WaitForScrapeAsync(HttpClient scraper, Func<Scrape, bool> done)
    {
        var deadline = DateTime.UtcNow + BotHost.Timeout;
        while (true)
        {
            var scrape = await ScrapeAsync(scraper);
            if (done(scrape))
                return scrape;
            Assert.True(DateTime.UtcNow < deadline, "the scrape never showed the expected values:\n" + scrape.Text);
            await Task.Delay(100, Ct);
        }
    }

    /// <summary>One parsed scrape in the Prometheus text format.</summary>
    private sealed partial record Scrape(string Text, IReadOnlyList<Series> Series)
    {
        public static Scrape Parse(string text)
        {
            var series = new List<Series>();
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0 || line.StartsWith('#'))
                    continue;
                var match = SampleLine().Match(line);
                Assert.True(match.Success, "not a sample line: " + line);
                var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
                series.Add(new Series(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
            }
            return new Scrape(text, series);
        }

        /// <summary>The sample lines of one metric, for a failure message.</summary>
        public string Dump(string name) => string.Join('\n', Text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal)));

        public bool Has(string name, params (string Label, string Value)[] labels) => Matching(name, labels).Any();

        /// <summary>The sum of the series named <paramref name="name"/> that carry these labels (0 when there is none yet).</summary>
        public double Value(string name, params (string Label, string Value)[] labels) => Matching(name, labels).Sum(s => s.Value);

        private IEnumerable<Series> Matching(string name, (string Label, string Value)[] labels) =>
            Series.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value));

        [GeneratedRegex("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?<labels>.*)\\})? (?<value>\\S+)( \\d+)?$")]
        private static partial Regex SampleLine();

        [GeneratedRegex("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"")]
        private static partial Regex LabelPair();
    }

    private sealed record Series(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
}
