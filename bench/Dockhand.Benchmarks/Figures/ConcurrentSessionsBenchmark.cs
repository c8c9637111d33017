using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P4: 200 web terminal sessions over 4 containers (50 execs each), opened 16 at a time, then every session types 10
/// keys at once; echo latency distribution and the server's peak RSS. Three client set-ups, one after the other: the
/// clients in a separate process (<c>--p4-clients</c>, the headline), the same with the clients pinned to one core and
/// the server to the other (taskset), and the clients inside the benchmark's process as before 2026-11-29.
/// </summary>
internal sealed class ConcurrentSessionsBenchmark : IFigureBenchmark
{
    private enum ClientSetup { SeparateProcess, Pinned, InProcess }

    public string Id => "P4";

    public bool UsesMainServer => true;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var sessions = context.Quick ? 40 : 200;
        const int containers = 4;
        var keys = context.Quick ? 5 : 10;
        var targets = new List<(ulong Owner, string Id)>();
        for (var c = 0; c < containers; c++)
            targets.Add(await context.TerminalContainerAsync(c, cancellationToken));

        var results = new Dictionary<ClientSetup, (List<double> Samples, double OpenSeconds, double RssBefore, double RssPeak)>();
        // The set-ups beside the headline are comparisons: one that fails is reported in the figure, not the end of the run.
        var failed = new Dictionary<ClientSetup, string>();
        // Pinning needs two cores and taskset (util-linux); without them the pinned set-up is left out.
        var pinnable = Environment.ProcessorCount >= 2 && (File.Exists("/usr/bin/taskset") || File.Exists("/bin/taskset"));
        foreach (var setup in new[] { ClientSetup.SeparateProcess, ClientSetup.Pinned, ClientSetup.InProcess })
        {
            if (setup == ClientSetup.Pinned && !pinnable)
                continue;
            var links = new List<Uri>(sessions);
            for (var s = 0; s < sessions; s++)
                links.Add(await context.IssueLinkAsync(targets[s % containers].Owner, targets[s % containers].Id, cancellationToken));
            var server = context.Env.Server!;
            var before = server.ResidentMiB();
            var peak = before;
#pragma warning disable CA2000 // Disposed by this using; the analyzer loses track of it inside the sampler's closure.
            using var sampling = new CancellationTokenSource();
#pragma warning restore CA2000
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    peak = Math.Max(peak, server.ResidentMiB());
                    try
                    {
                        await Task.Delay(100, sampling.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }, CancellationToken.None);
            if (setup == ClientSetup.Pinned)
                await PinAsync(server.ProcessId, "0", cancellationToken);
            (List<double> Samples, double OpenSeconds) run;
            try
            {
                run = setup == ClientSetup.InProcess
                    ? await InProcessAsync(server.BaseAddress, links, keys, cancellationToken)
                    : await ClientProcessAsync(server.BaseAddress, links, keys, pinned: setup == ClientSetup.Pinned, cancellationToken);
            }
            catch (Exception e) when (setup != ClientSetup.SeparateProcess && !cancellationToken.IsCancellationRequested)
            {
                failed[setup] = $"{e.GetType().Name}: {e.Message}";
                context.Log($"P4 {Describe(setup)}: failed ({failed[setup]})");
                continue;
            }
            finally
            {
                if (setup == ClientSetup.Pinned)
                    await PinAsync(server.ProcessId, $"0-{Environment.ProcessorCount - 1}", CancellationToken.None);
                await sampling.CancelAsync();
                await sampler;
            }
            peak = Math.Max(peak, server.ResidentMiB());
            results[setup] = (run.Samples, run.OpenSeconds, before, peak);
            context.Log($"P4 {Describe(setup)}: {sessions} sessions open in {run.OpenSeconds:0.0} s; echo {Stats.Describe(run.Samples)}; RSS {before:0} → {peak:0} MiB");
        }

        var (samples, openSeconds, rssBefore, rssPeak) = results[ClientSetup.SeparateProcess];
        double p50 = Stats.Percentile(samples, 50), p99 = Stats.Percentile(samples, 99);
        // The headline set-up runs first, so its peak is the server's with one set of 200 sessions; the later set-ups
        // start from what the earlier ones left in the heap (kept in latest.json, not in the verdict).
        var peakAll = rssPeak;
        var anchor = string.Join("; ", results.Where(r => r.Key != ClientSetup.SeparateProcess)
            .Select(r => $"{Describe(r.Key)}: p50 {Ms(Stats.Percentile(r.Value.Samples, 50))}, p99 {Ms(Stats.Percentile(r.Value.Samples, 99))}")
            .Concat(failed.Select(f => $"{Describe(f.Key)}: failed")));
        var data = new JsonObject
        {
            ["sessions"] = sessions, ["keys_per_session"] = keys, ["p50_ms"] = p50, ["p99_ms"] = p99, ["rss_before_mib"] = rssBefore, ["rss_peak_mib"] = peakAll, ["rss_peak_all_setups_mib"] = results.Values.Max(r => r.RssPeak),
            ["open_all_seconds"] = openSeconds,
            ["note"] = "headline: the clients in a separate process (Dockhand.Benchmarks --p4-clients), unpinned. pinned: taskset puts the client process on CPU 1 and every thread of the server on CPU 0 (dockerd and the shells stay unpinned). in_process: the clients share the benchmark's process, as before 2026-11-29",
        };
        foreach (var (setup, r) in results)
        {
            var distribution = Stats.Distribution(r.Samples);
            distribution["open_all_seconds"] = r.OpenSeconds;
            distribution["rss_before_mib"] = r.RssBefore;
            distribution["rss_peak_mib"] = r.RssPeak;
            data[Key(setup)] = distribution;
        }
        foreach (var (setup, reason) in failed)
            data[Key(setup)] = new JsonObject { ["failed"] = reason };
        return new Figure("P4", $"{sessions.ToString(Inv)} concurrent terminal sessions (4 containers) all typing, clients in their own process: echo latency; server RSS",
            $"{Stats.Describe(samples)}; RSS {F(peakAll, "0")} MiB", anchor, "—", "p99 ≤ 50 ms and RSS ≤ 300 MB", p99 <= 50 && peakAll * 1.048576 <= 300, data);
    }

    private static string Key(ClientSetup setup) => setup switch { ClientSetup.SeparateProcess => "separate_process", ClientSetup.Pinned => "pinned", _ => "in_process" };

    private static string Describe(ClientSetup setup) => setup switch
    {
        ClientSetup.SeparateProcess => "clients in their own process",
        ClientSetup.Pinned => "clients on CPU 1, server on CPU 0",
        _ => "clients in the benchmark's process",
    };

    /// <summary>Every thread of <paramref name="pid"/> onto <paramref name="cpus"/> (taskset's list syntax).</summary>
    private static async Task PinAsync(int pid, string cpus, CancellationToken cancellationToken)
    {
        var run = await Shell.RunAsync("taskset", ["-a", "-p", "-c", cpus, pid.ToString(CultureInfo.InvariantCulture)], cancellationToken: cancellationToken);
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"taskset -a -p -c {cpus} {pid}: {run.Stderr.Trim()}");
    }

    private static async Task<(List<double> Samples, double OpenSeconds)> InProcessAsync(Uri baseAddress, IReadOnlyList<Uri> links, int keys, CancellationToken cancellationToken)
    {
        var outcome = await P4Clients.RunAsync(baseAddress, links, keys, 2, cancellationToken);
        return (outcome.Samples, outcome.OpenSeconds);
    }

    /// <summary>Runs <c>Dockhand.Benchmarks --p4-clients</c> (optionally under <c>taskset -c 1</c>) and reads its JSON answer.</summary>
    private static async Task<(List<double> Samples, double OpenSeconds)> ClientProcessAsync(Uri baseAddress, IReadOnlyList<Uri> links, int keys, bool pinned,
        CancellationToken cancellationToken)
    {
        var self = Path.Combine(AppContext.BaseDirectory, "Dockhand.Benchmarks.dll");
        var info = new ProcessStartInfo(pinned ? "taskset" : "dotnet") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        if (pinned)
            foreach (var a in new[] { "-c", "1", "dotnet" })
                info.ArgumentList.Add(a);
        info.ArgumentList.Add(self);
        info.ArgumentList.Add(P4Clients.Flag);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("the P4 client process did not start");
        try
        {
            var request = new JsonObject
            {
                ["base"] = baseAddress.AbsoluteUri, ["links"] = new JsonArray([.. links.Select(l => (JsonNode)l.AbsoluteUri)]), ["keys"] = keys, ["warmup"] = 2,
            };
            await process.StandardInput.WriteLineAsync(request.ToJsonString().AsMemory(), cancellationToken);
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            var stdout = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"the P4 client process exited with {process.ExitCode}: {(await stderr).Trim()}");
            var answer = JsonNode.Parse(stdout)!;
            return ([.. answer["samples_ms"]!.AsArray().Select(v => v!.GetValue<double>())], answer["open_seconds"]!.GetValue<double>());
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }
}

/// <summary>
/// P4's clients: open every link (16 at a time), then all sessions type at once. Runs inside the benchmark, or as its
/// own process (<c>Dockhand.Benchmarks --p4-clients</c>: the request as one JSON line on stdin, the samples as JSON on stdout).
/// </summary>
internal static class P4Clients
{
    public const string Flag = "--p4-clients";

    public sealed record Outcome(List<double> Samples, double OpenSeconds);

    public static async Task<Outcome> RunAsync(Uri baseAddress, IReadOnlyList<Uri> links, int keys, int warmup, CancellationToken cancellationToken)
    {
        var open = Stopwatch.StartNew();
        var terminals = new TerminalSocket[links.Count];
        try
        {
            using (var gate = new SemaphoreSlim(16))
            {
                await Task.WhenAll(links.Select(async (link, s) =>
                {
                    await gate.WaitAsync(cancellationToken);
                    try
                    {
                        terminals[s] = await TerminalSocket.OpenAsync(baseAddress, link, cancellationToken);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
            }
            var openSeconds = open.Elapsed.TotalSeconds;
            var samples = new ConcurrentBag<double>();
            await Task.WhenAll(terminals.Select(async t =>
            {
                foreach (var sample in await EchoProbe.SamplesAsync(t, keys, warmup, cancellationToken))
                    samples.Add(sample);
            }));
            return new Outcome([.. samples], openSeconds);
        }
        finally
        {
            foreach (var t in terminals)
                if (t is not null)
                    await t.DisposeAsync();
        }
    }

    /// <summary>The client process's main: one JSON request line in, one JSON answer out.</summary>
    public static async Task<int> MainAsync(CancellationToken cancellationToken)
    {
        var request = JsonNode.Parse(await Console.In.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("no request on stdin"))!;
        var outcome = await RunAsync(new Uri(request["base"]!.GetValue<string>()),
            [.. request["links"]!.AsArray().Select(l => new Uri(l!.GetValue<string>()))],
            request["keys"]!.GetValue<int>(), request["warmup"]!.GetValue<int>(), cancellationToken);
        Console.Out.WriteLine(new JsonObject { ["open_seconds"] = outcome.OpenSeconds, ["samples_ms"] = Format.Array(outcome.Samples) }.ToJsonString());
        return 0;
    }
}
