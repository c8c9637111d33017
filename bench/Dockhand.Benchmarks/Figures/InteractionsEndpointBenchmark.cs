using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using Dockhand.Discord.Testing.Rest;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P5: pre-signed APPLICATION_COMMAND interactions on POST /interactions: 32 closed-loop clients, then an open loop at
/// 500/s with latency measured from each request's scheduled time.
/// </summary>
internal sealed class InteractionsEndpointBenchmark : IFigureBenchmark
{
    public string Id => "P5";

    public bool UsesMainServer => true;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var ct = cancellationToken;
        var env = context.Env;
        var quick = context.Quick;
        var server = env.Server!;
        var endpoint = new Uri(server.BaseAddress, "/interactions");
        var duration = TimeSpan.FromSeconds(quick ? 2 : 5);
        // Pre-signed requests (signing is Discord's work, not Dockhand's): a stranger's /create, refused at once (type 4).
        var count = quick ? 8_000 : 30_000;
        var signed = new (byte[] Body, string Timestamp, string Signature)[count];
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(Inv);
        Parallel.For(0, count, i =>
        {
            var body = Encoding.UTF8.GetBytes(env.SlashCommand(BenchEnvironment.Stranger, "create", $"p5-{i}",
                new TestOption("user", 6, BenchEnvironment.Stranger.ToString(Inv), ResolvedUsername: "stranger"),
                new TestOption("container_name", 3, "nope")).ToJsonString());
            signed[i] = (body, timestamp, env.Signer.Sign(timestamp, body));
        });
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var http = new HttpClient(handler);
        var next = -1;

        async Task<bool> SendAsync(CancellationToken token)
        {
            var (body, ts, signature) = signed[Interlocked.Increment(ref next) % count];
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("X-Signature-Ed25519", signature);
            request.Headers.TryAddWithoutValidation("X-Signature-Timestamp", ts);
            using var response = await http.SendAsync(request, token);
            var text = await response.Content.ReadAsStringAsync(token);
            return response.IsSuccessStatusCode && text.Contains("\"type\":4", StringComparison.Ordinal);
        }

        // Warm-up, then a forged signature must be refused.
        for (var i = 0; i < 200; i++)
            await SendAsync(ct);
        using (var forged = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(signed[0].Body) })
        {
            forged.Headers.TryAddWithoutValidation("X-Signature-Ed25519", new string('0', 128));
            forged.Headers.TryAddWithoutValidation("X-Signature-Timestamp", timestamp);
            using var refused = await http.SendAsync(forged, ct);
            if ((int)refused.StatusCode != 401)
                throw new InvalidOperationException($"a forged signature got {(int)refused.StatusCode}");
        }

        // Closed loop: as many as 32 clients can get acknowledged.
        var acknowledged = 0;
        var failed = 0;
        var closed = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            while (closed.Elapsed < duration)
            {
                if (await SendAsync(ct))
                    Interlocked.Increment(ref acknowledged);
                else
                    Interlocked.Increment(ref failed);
            }
        }));
        var perSecond = acknowledged / closed.Elapsed.TotalSeconds;
        context.Log($"P5 closed loop: {perSecond:0} acknowledged/s ({failed} failed)");

        // Open loop at 500/s: latency from the scheduled send time (no coordinated omission).
        const int rate = 500;
        var total = (int)(rate * duration.TotalSeconds);
        var latencies = new ConcurrentBag<double>();
        var openFailed = 0;
        var open = Stopwatch.StartNew();
        var inFlight = new List<Task>(total);
        for (var k = 0; k < total; k++)
        {
            var scheduled = TimeSpan.FromSeconds((double)k / rate);
            var ahead = scheduled - open.Elapsed;
            if (ahead > TimeSpan.FromMilliseconds(1))
                await Task.Delay(ahead, ct);
            inFlight.Add(Task.Run(async () =>
            {
                var ok = await SendAsync(ct);
                latencies.Add((open.Elapsed - scheduled).TotalMilliseconds);
                if (!ok)
                    Interlocked.Increment(ref openFailed);
            }, ct));
        }
        await Task.WhenAll(inFlight);
        var p50 = Stats.Percentile(latencies, 50);
        var p99 = Stats.Percentile(latencies, 99);
        context.Log($"P5 open loop 500/s: p50 {p50:0.00} ms, p99 {p99:0.00} ms ({openFailed} failed)");
        return new Figure("P5", "signed interactions acknowledged per second on POST /interactions (Ed25519 checked); latency at 500/s",
            $"{F(perSecond, "0")}/s; p50 {Ms(p50)}, p99 {Ms(p99)} at 500/s", "—", "—", "p99 ≤ 50 ms", p99 <= 50,
            new JsonObject
            {
                ["acknowledged_per_s"] = perSecond, ["closed_loop_clients"] = 32, ["closed_loop_failed"] = failed,
                ["open_loop_rate"] = rate, ["p50_ms"] = p50, ["p99_ms"] = p99, ["open_loop_failed"] = openFailed,
                ["interaction"] = "APPLICATION_COMMAND /create from a user not on the allowlist: answered type 4 in the HTTP body",
            });
    }
}
