using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P3env (opt-in, <c>--only P3env</c>): where P3's tail comes from on the server side, without changing src/. The main
/// server is restarted on the same database once per runtime variant (GC mode, gen0 budget, tiering, PGO), variants in
/// rotating order over the rounds; each variant's WebSocket echo is measured next to a `docker exec -it` run of its
/// own, so every variant has an anchor taken at the same moment. The main server is restarted as configured at the end.
/// </summary>
internal sealed class EchoRuntimeVariantsBenchmark : IFigureBenchmark
{
    private static readonly (string Name, Dictionary<string, string> Environment)[] s_variants =
    [
        ("default (workstation, concurrent GC, tiered, PGO)", []),
        ("DOTNET_gcServer=1", new() { ["DOTNET_gcServer"] = "1" }),
        ("DOTNET_gcConcurrent=0", new() { ["DOTNET_gcConcurrent"] = "0" }),
        ("DOTNET_GCgen0size=0x4000000 (64 MiB)", new() { ["DOTNET_GCgen0size"] = "0x4000000" }),
        ("DOTNET_TieredPGO=0", new() { ["DOTNET_TieredPGO"] = "0" }),
        ("DOTNET_TieredCompilation=0", new() { ["DOTNET_TieredCompilation"] = "0" }),
        // Socket completions run on the epoll thread instead of being queued to the thread pool (Kestrel's transport and
        // Docker.DotNet's unix socket alike): one thread-pool hop less each way per keystroke.
        ("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1", new() { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" }),
        ("TieredPGO=0 + SOCKETS_INLINE_COMPLETIONS=1", new() { ["DOTNET_TieredPGO"] = "0", ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" }),
    ];

    public string Id => "P3env";

    public bool UsesMainServer => true;

    public bool InDefaultRun => false;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var (owner, id) = await context.TerminalContainerAsync(0, cancellationToken);
        var perRound = context.Quick ? 100 : 250;
        var rounds = context.Quick ? 1 : 2;
        // Warm-up keys per session: enough for tier-1 code of the echo path before timing (the default tiers up after 30 calls + a 100 ms delay).
        const int warmup = 100;
        var web = s_variants.Select(_ => new List<double>()).ToArray();
        var cli = s_variants.Select(_ => new List<double>()).ToArray();
        var runtime = s_variants.Select(_ => new JsonArray()).ToArray();
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < s_variants.Length; k++)
                {
                    var v = (k + round) % s_variants.Length;
                    var (name, environment) = s_variants[v];
                    await context.Env.RestartMainServerAsync(environment, cancellationToken);
                    // The counters span the warm-up keys too: the client is one ws_echo.py run per session, as in P3.
                    var counters = await RuntimeCounters.StartAsync(context.Env.Server!.ProcessId, context.Env.Directory, cancellationToken);
                    web[v].AddRange(await EchoProbe.WebSocketSamplesAsync(await context.IssueLinkAsync(owner, id, cancellationToken), perRound, warmup, cancellationToken));
                    if (counters is not null)
                        runtime[v].Add(await counters.StopAsync());
                    cli[v].AddRange(await EchoProbe.DockerExecSamplesAsync(id, perRound, 20, cancellationToken));
                    context.Log($"P3env round {round + 1}/{rounds} {name}: WebSocket p99 {Stats.Percentile(web[v], 99):0.000} ms, docker exec -it p99 {Stats.Percentile(cli[v], 99):0.000} ms");
                }
            }
        }
        finally
        {
            await context.Env.RestartMainServerAsync(new Dictionary<string, string>(), CancellationToken.None);
        }

        var variants = new JsonArray();
        for (var v = 0; v < s_variants.Length; v++)
        {
            var ratio = Stats.Percentile(web[v], 99) / Stats.Percentile(cli[v], 99);
            context.Log($"P3env {s_variants[v].Name}: WebSocket {Stats.Describe(web[v])}; docker exec -it {Stats.Describe(cli[v])}; p99 ratio {ratio:0.00}");
            variants.Add(new JsonObject
            {
                ["variant"] = s_variants[v].Name,
                ["environment"] = new JsonObject([.. s_variants[v].Environment.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]),
                ["websocket"] = Stats.Distribution(web[v]), ["docker_exec"] = Stats.Distribution(cli[v]), ["ratio_p99"] = ratio,
                ["server_runtime_counters"] = runtime[v],
            });
        }
        var baseline = Stats.Percentile(web[0], 99);
        var best = Enumerable.Range(0, s_variants.Length).MinBy(v => Stats.Percentile(web[v], 99) / Stats.Percentile(cli[v], 99));
        return new Figure("P3env", "P3's WebSocket echo under runtime variations of the server (restarted per variant; each with its own `docker exec -it` run)",
            $"default p99 {Ms(baseline)}; lowest p99 ratio: {s_variants[best].Name} p99 {Ms(Stats.Percentile(web[best], 99))}",
            $"`docker exec -it` p99 {Ms(Stats.Percentile(cli[0], 99))} (next to default), {Ms(Stats.Percentile(cli[best], 99))} (next to {s_variants[best].Name})",
            $"{F(baseline / Stats.Percentile(cli[0], 99))}× p99 default; {F(Stats.Percentile(web[best], 99) / Stats.Percentile(cli[best], 99))}× best",
            "diagnostic (no target)", null,
            new JsonObject
            {
                ["variants"] = variants, ["keys_per_variant_per_round"] = perRound, ["rounds"] = rounds, ["warmup_keys"] = warmup,
                ["note"] = "the server is restarted for every variant, so the WebSocket path runs on a young process (warm-up keys first); compare variants with each other and with their own anchor, not with P3",
            });
    }
}
