// The Dockhand benchmark: P1-P7 against a real `dockhand run`, side by side with the docker CLI and the Engine API.
// Run it with scripts/bench.sh (which makes sure the engine and the test image exist). Options:
//   --quick          small N, for a smoke run
//   --only P1,P5     run only these (P6 always starts its own processes; the others share one server)
//   --out DIR        where latest.json and latest.md go (default bench/results under the repository)
//   --dockhand DIR   run the dockhand.dll in DIR (e.g. a ReadyToRun publish) instead of the one built beside the benchmark
using Dockhand.Benchmarks;
using Dockhand.Benchmarks.Support;

var quick = args.Contains("--quick");
var only = Option("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
var output = Option("--out") ?? Report.DefaultDirectory();
if (Option("--dockhand") is { } build)
    DockhandServer.Executable = Path.GetFullPath(Path.Combine(build, "dockhand.dll"));
bool Wanted(string id) => only is null || only.Contains(id);

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
var ct = cancel.Token;
var machine = await Report.MachineAsync(ct);
var started = DateTimeOffset.UtcNow;
void Log(string line) => Console.Error.WriteLine($"[{DateTimeOffset.UtcNow:HH:mm:ss}] {line}");
Log($"machine: {machine["cpu"]} ×{machine["cores"]}, load average {machine["load_average_at_start"]}; dockhand: {DockhandServer.Executable}");

var figures = new List<Figure>();
System.Text.Json.Nodes.JsonObject? profile = null;
await using (var env = await BenchEnvironment.StartAsync(ct))
{
    Log($"run id {env.RunId} (everything created is labelled {BenchEnvironment.LabelKey}={env.RunId})");
    var bench = new Benchmarks(env, quick, Log);
    if (Wanted("P6"))
        figures.Add(await bench.ColdStartAsync(ct));
    if (new[] { "P1", "P2", "P3", "P4", "P5", "P7" }.Any(Wanted))
    {
        await env.StartMainServerAsync(ct);
        Log($"main dockhand run at {env.Server!.BaseAddress} (pid {env.Server.ProcessId})");
        if (Wanted("P5"))
            figures.Add(await bench.InteractionsEndpointAsync(ct));
        if (Wanted("P1"))
        {
            figures.Add(await bench.CreateAsync(ct));
            profile = await bench.ProfileCreateAsync(ct);
        }
        if (Wanted("P2"))
            figures.Add(await bench.ThroughputAsync(ct));
        if (Wanted("P3"))
            figures.Add(await bench.EchoAsync(ct));
        if (Wanted("P4"))
            figures.Add(await bench.ConcurrentSessionsAsync(ct));
        if (Wanted("P7"))
            figures.Add(await bench.ListAsync(ct));
    }
}

figures.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
Console.WriteLine(Report.Table(figures));
var (json, markdown) = await Report.WriteAsync(output, figures, machine, started, quick, profile, ct);
Log($"wrote {json} and {markdown}");
return 0;

string? Option(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
