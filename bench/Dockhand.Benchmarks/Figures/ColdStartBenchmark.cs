using System.Diagnostics;
using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>P6: <c>dockhand run</c> started cold (new database) until GET /health answers 200; RSS after 5 s idle.</summary>
internal sealed class ColdStartBenchmark : IFigureBenchmark
{
    public string Id => "P6";

    public bool UsesMainServer => false;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var runs = context.Quick ? 2 : 5;
        var jit = new Starts("JIT", DockhandServer.JitBuild);
        var native = DockhandServer.NativeExecutable is null ? null : new Starts("native", DockhandServer.NativeExecutable);
        // --native DIR,DIR2,…: publishes with other settings, started in the same rotation so the comparison is side by side.
        var candidates = DockhandServer.CandidateNativeExecutables.Select((executable, k) => new Starts($"candidate {k + 1} ({executable})", executable)).ToArray();
        Starts[] builds = [jit, .. native is null ? System.Array.Empty<Starts>() : [native], .. candidates];
        for (var i = 0; i < runs; i++)
        {
            // The builds take turns start by start, and which goes first rotates from run to run.
            for (var k = 0; k < builds.Length; k++)
            {
                var starts = builds[(i + k) % builds.Length];
                await MeasureAsync(context, starts, $"cold-{System.Array.IndexOf(builds, starts)}-{i}.db", $"P6 {starts.Name} run {i + 1}/{runs}", cancellationToken);
            }
        }
        var headline = native ?? jit;
        var readyMedian = Stats.Median(headline.Ready);
        var rssMedian = Stats.Median(headline.Rss);
        var data = jit.ToJson();
        if (native is not null)
            data["native"] = native.ToJson();
        if (candidates.Length > 0)
            data["native_candidates"] = new JsonArray([.. candidates.Select(c => { var json = c.ToJson(); json["executable"] = c.Executable; return (JsonNode)json; })]);
        data["note"] = "listening = the process printed 'dockhand: running on' (host built, database migrated, Kestrel bound); ready = the first GET /health answered 200 (engine ping and version negotiation, database check). RSS = anonymous + file-backed (for JIT: the shared framework and native libraries mapped from disk) + shmem (the JIT's double-mapped code). The top-level figures are the JIT build's; \"native\" is the release binary's (--native)";
        return native is null
            ? new Figure("P6", "cold start to ready (`dockhand run` until /health is 200); idle RSS after 5 s",
                $"{Ms(readyMedian)}; {F(rssMedian, "0.0")} MiB", "—", "—", "≤ 1 s and ≤ 80 MB",
                readyMedian <= 1000 && rssMedian * 1.048576 <= 80, data)
            : new Figure("P6", "cold start to ready (`dockhand run` until /health is 200); idle RSS after 5 s: the release binary (Native AOT), the JIT build beside it",
                $"Native AOT: {Ms(readyMedian)}; {F(rssMedian, "0.0")} MiB ({F(rssMedian * 1.048576, "0.0")} MB)",
                $"JIT build: {Ms(Stats.Median(jit.Ready))}; {F(Stats.Median(jit.Rss), "0.0")} MiB" + string.Concat(candidates.Select(c => $"; {c.Name}: {Ms(Stats.Median(c.Ready))}; {F(Stats.Median(c.Rss), "0.0")} MiB")), "—", "release binary ≤ 250 ms and ≤ 50 MB",
                readyMedian <= 250 && rssMedian * 1.048576 <= 50, data);
    }

    private static async Task MeasureAsync(BenchContext context, Starts starts, string database, string label, CancellationToken cancellationToken)
    {
        var env = context.Env;
        var watch = Stopwatch.StartNew();
        await using var server = DockhandServer.Start(env.Directory, env.Settings(Path.Combine(env.Directory, database)), starts.Executable);
        starts.Ready.Add((await server.WaitReadyAsync(watch, TimeSpan.FromSeconds(90), cancellationToken)).TotalMilliseconds);
        starts.Listening.Add(server.ListeningAt?.TotalMilliseconds ?? double.NaN);
        await Task.Delay(TimeSpan.FromSeconds(context.Quick ? 2 : 5), cancellationToken);
        starts.Rss.Add(server.ResidentMiB());
        var (anonymous, file) = server.ResidentBreakdownMiB();
        starts.Anonymous.Add(anonymous);
        starts.Pss.Add(server.ProportionalMiB());
        starts.FileBacked.Add(file);
        context.Log($"{label}: ready {starts.Ready[^1]:0} ms (listening at {starts.Listening[^1]:0} ms), idle RSS {starts.Rss[^1]:0.0} MiB (anonymous {anonymous:0.0}, file-backed {file:0.0}; PSS {starts.Pss[^1]:0.0})");
    }

    /// <summary>One build's starts.</summary>
    private sealed class Starts(string name, string executable)
    {
        public string Name { get; } = name;
        public string Executable { get; } = executable;

        public List<double> Ready { get; } = [];
        public List<double> Listening { get; } = [];
        public List<double> Rss { get; } = [];
        public List<double> Anonymous { get; } = [];
        public List<double> FileBacked { get; } = [];
        public List<double> Pss { get; } = [];

        public JsonObject ToJson() => new()
        {
            ["ready_ms"] = Format.Array(Ready), ["idle_rss_mib"] = Format.Array(Rss), ["ready_median_ms"] = Stats.Median(Ready), ["idle_rss_median_mib"] = Stats.Median(Rss),
            ["idle_rss_anonymous_median_mib"] = Stats.Median(Anonymous), ["idle_rss_file_backed_median_mib"] = Stats.Median(FileBacked),
            ["idle_pss_median_mib"] = Stats.Median(Pss), ["listening_ms"] = Format.Array(Listening), ["listening_median_ms"] = Stats.Median(Listening),
        };
    }
}
