using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P3: one key at a time on the web terminal's WebSocket, time until its echo arrives, against the same keys through
/// `docker exec -it` in a real pty; the two paths alternate round by round in the same run, and both distributions
/// (p50 … max and a coarse histogram) go to latest.json. Both clients are the same kind of program (one blocking Python
/// loop: ws_echo.py, pty_echo.py), so the ratio compares the two paths and not a .NET client against a Python one.
/// </summary>
internal sealed class EchoBenchmark : IFigureBenchmark
{
    public string Id => "P3";

    public bool UsesMainServer => true;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var (owner, id) = await context.TerminalContainerAsync(0, cancellationToken);
        var perRound = context.Quick ? 100 : 250;
        var rounds = context.Quick ? 2 : 8;
        var web = new List<double>();
        var cli = new List<double>();
        // With --dotnet-counters: the server's GCs, pause time, JIT and lock contention over the whole figure (the server only works during the WebSocket rounds).
        var counters = await RuntimeCounters.StartAsync(context.Env.Server!.ProcessId, context.Env.Directory, cancellationToken);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var webFirst in round % 2 == 0 ? new[] { true, false } : [false, true])
            {
                if (webFirst)
                {
                    web.AddRange(await EchoProbe.WebSocketSamplesAsync(await context.IssueLinkAsync(owner, id, cancellationToken), perRound, 20, cancellationToken));
                }
                else
                {
                    cli.AddRange(await EchoProbe.DockerExecSamplesAsync(id, perRound, 20, cancellationToken));
                }
            }
            context.Log($"P3 round {round + 1}/{rounds}: WebSocket p99 so far {Stats.Percentile(web, 99):0.000} ms, docker exec -it {Stats.Percentile(cli, 99):0.000} ms");
        }
        var runtime = counters is null ? null : await counters.StopAsync();
        if (runtime is not null)
            context.Log($"P3 server counters: {runtime.ToJsonString()}");
        double w50 = Stats.Percentile(web, 50), w99 = Stats.Percentile(web, 99), c50 = Stats.Percentile(cli, 50), c99 = Stats.Percentile(cli, 99);
        context.Log($"P3: WebSocket {Stats.Describe(web)}; docker exec -it {Stats.Describe(cli)}");
        return new Figure("P3", "keystroke echo round trip through the web terminal (busybox sh, one key at a time)",
            Stats.Describe(web), $"`docker exec -it` in a pty: {Stats.Describe(cli)}", $"{F(w50 / c50)}× p50, {F(w99 / c99)}× p99",
            "p50 ≤ 0.7 ms, p99 ≤ 2 ms and ≤ 1.5× the CLI's p99", w50 <= 0.7 && w99 <= 2 && w99 / c99 <= 1.5,
            new JsonObject
            {
                ["websocket_p50_ms"] = w50, ["websocket_p99_ms"] = w99, ["docker_exec_p50_ms"] = c50, ["docker_exec_p99_ms"] = c99, ["samples_each"] = web.Count,
                ["ratio_p50"] = w50 / c50, ["ratio_p99"] = w99 / c99,
                ["websocket"] = Stats.Distribution(web), ["docker_exec"] = Stats.Distribution(cli),
                ["websocket_samples_ms"] = Format.Array(web), ["docker_exec_samples_ms"] = Format.Array(cli),
                ["server_environment"] = ServerEnvironmentJson(context.Env),
                ["server_runtime_counters"] = runtime,
                ["websocket_samples_over_1ms"] = web.Count(s => s > 1), ["websocket_excess_over_1ms_total_ms"] = web.Where(s => s > 1).Sum(s => s - 1),
                ["note"] = $"{rounds} rounds of {perRound} keys per path after 20 warm-up keys each, alternating which path goes first; " +
                    "the WebSocket client is ws_echo.py (one blocking loop, TCP_NODELAY on; Kestrel sets it on the server side too), the anchor's pty_echo.py in the same shape; " +
                    "the docker exec -it path has no TCP at all (pty → CLI → unix socket → dockerd)",
            });
    }

    public static JsonObject ServerEnvironmentJson(BenchEnvironment env)
        => new([.. env.ServerEnvironment.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]);
}
