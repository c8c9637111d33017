// The Dockhand benchmark: P1-P7 (and the opt-in P8, P3env) against a real `dockhand run`, side by side with the docker
// CLI and the Engine API. Run it with scripts/bench.sh (which makes sure the engine and the test image exist). Options:
//   --quick              small N, for a smoke run
//   --only P1,P5         run only these figures; P8, P3env and the Swarm figures S1, S2 run only when named here
//   --out DIR            where latest.json and latest.md go (default bench/results under the repository)
//   --dockhand DIR       the JIT build: the dockhand.dll in DIR (e.g. a ReadyToRun publish) instead of the one built beside the benchmark
//   --native DIR         the release binary DIR/dockhand (scripts/publish.sh DIR): every figure's server, what ships; P6
//                        starts the JIT build beside it (DIR,DIR2,…: further publishes P6 starts in the same rotation)
//   --server-env K=V     set K=V in every `dockhand run` child's environment (repeatable), e.g. DOTNET_gcServer=1
//   --trace-server       the servers reach the engine through a tracing relay; P1 logs the server's engine requests and
//                        Discord calls during each /create (a diagnostic run: the relay adds a hop to every request)
//   --p8-containers N    P8's container count (default 1000; 50 with --quick)
//   --p8-parallel N      P8's /create interactions in flight (default 8)
//   --dotnet-counters F  the dotnet-counters executable: P3 and P3env record the server's GC, JIT and lock counters
// Internal: `--p4-clients` makes this executable P4's client process (a JSON request on stdin, samples on stdout).
using System.Globalization;
using Dockhand.Benchmarks;
using Dockhand.Benchmarks.Figures;
using Dockhand.Benchmarks.Support;

using var cancel = new CancellationTokenSource();
// Ctrl-C and SIGTERM (e.g. `timeout`) cancel the figures; the environment's clean-up by label still runs.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, signal =>
{
    signal.Cancel = true;
    cancel.Cancel();
});
var ct = cancel.Token;
if (args.Contains(P4Clients.Flag))
    return await P4Clients.MainAsync(ct);

var quick = args.Contains("--quick");
var only = Option("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
var output = Option("--out") ?? Report.DefaultDirectory();
if (Option("--dockhand") is { } build)
    DockhandServer.JitBuild = Path.GetFullPath(Path.Combine(build, "dockhand.dll"));
if (Option("--native") is { } native)
{
    // DIR[,DIR2,…]: the first is the release binary P6 judges; the others are candidates (other publish settings) started beside it.
    var natives = native.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(d => Path.GetFullPath(Path.Combine(d, "dockhand"))).ToArray();
    DockhandServer.NativeExecutable = natives[0];
    DockhandServer.CandidateNativeExecutables = natives[1..];
}
RuntimeCounters.Tool = Option("--dotnet-counters");
var settings = new BenchSettings(quick,
    int.Parse(Option("--p8-containers") ?? (quick ? "50" : "1000"), CultureInfo.InvariantCulture),
    int.Parse(Option("--p8-parallel") ?? "8", CultureInfo.InvariantCulture));

// The order they run in: the figures with their own processes first, then those sharing the main server; P3env restarts the main server, so it goes last.
IFigureBenchmark[] all =
[
    new ColdStartBenchmark(), new ScaleBenchmark(),
    new InteractionsEndpointBenchmark(), new CreateBenchmark(), new ThroughputBenchmark(), new EchoBenchmark(), new ConcurrentSessionsBenchmark(),
    new ListBenchmark(), new EchoRuntimeVariantsBenchmark(),
    // The Swarm figures: their own dockhand run on the test bed (scripts/bench.sh brings it up when they are named).
    new SwarmCreateBenchmark(), new SwarmTerminalBenchmark(),
];
var unknown = only?.Where(id => !all.Any(f => f.Id.Equals(id, StringComparison.OrdinalIgnoreCase))).ToList();
if (unknown is { Count: > 0 })
{
    Console.Error.WriteLine($"unknown figure(s) {string.Join(", ", unknown)}; the figures are {string.Join(", ", all.Select(f => f.Id))}");
    return 2;
}
var chosen = all.Where(f => only is null ? f.InDefaultRun : only.Contains(f.Id)).ToList();

var machine = await Report.MachineAsync(ct);
machine["server"] = DockhandServer.NativeExecutable is null ? "the JIT build (dotnet dockhand.dll)" : "the release binary (Native AOT, scripts/publish.sh)";
var started = DateTimeOffset.UtcNow;
void Log(string line) => Console.Error.WriteLine($"[{DateTimeOffset.UtcNow:HH:mm:ss}] {line}");
Log($"machine: {machine["cpu"]} ×{machine["cores"]}, load average {machine["load_average_at_start"]}; dockhand: {DockhandServer.Executable}; figures: {string.Join(", ", chosen.Select(f => f.Id))}");

var figures = new List<Figure>();
BenchContext context;
await using (var env = await BenchEnvironment.StartAsync(ct))
{
    foreach (var pair in Options("--server-env"))
    {
        var split = pair.Split('=', 2);
        if (split.Length != 2 || split[0].Length == 0)
        {
            Console.Error.WriteLine($"--server-env takes KEY=VALUE, not '{pair}'");
            return 2;
        }
        env.ServerEnvironment[split[0]] = split[1];
    }
    if (args.Contains("--trace-server"))
        env.TraceServerEngine();
    Log($"run id {env.RunId} (everything created is labelled {BenchEnvironment.LabelKey}={env.RunId})" +
        (env.ServerEnvironment.Count > 0 ? $"; server environment {string.Join(" ", env.ServerEnvironment.Select(p => $"{p.Key}={p.Value}"))}" : ""));
    context = new BenchContext(env, settings, Log);
    foreach (var figure in chosen)
    {
        if (figure.UsesMainServer && env.Server is null)
        {
            await env.StartMainServerAsync(ct);
            Log($"main dockhand run at {env.Server!.BaseAddress} (pid {env.Server.ProcessId})");
        }
        var watch = System.Diagnostics.Stopwatch.StartNew();
        figures.Add(await figure.RunAsync(context, ct));
        Log($"{figure.Id} took {watch.Elapsed.TotalSeconds:0} s");
    }
}

figures.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
Console.WriteLine(Report.Table(figures));
var (json, markdown) = await Report.WriteAsync(output, figures, machine, started, quick, context.Profile, ct);
Log($"wrote {json} and {markdown}");
return 0;

string? Option(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

IEnumerable<string> Options(string name)
{
    for (var i = 0; i + 1 < args.Length; i++)
        if (args[i] == name)
            yield return args[i + 1];
}
