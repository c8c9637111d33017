using System.Diagnostics;
using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// S2: the web terminal through a worker node on the Swarm backend (Dockhand on the manager's side execs through the
/// worker's own engine): keystroke echo and the throughput of a `cat` of a 64 MiB file, beside `docker exec` on that
/// worker's engine (`docker -H worker exec`), alternating in the same run. Only when named (<c>--only S2</c>).
/// </summary>
internal sealed class SwarmTerminalBenchmark : IFigureBenchmark
{
    public string Id => "S2";

    public bool UsesMainServer => false;

    public bool InDefaultRun => false;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var ct = cancellationToken;
        var env = context.Env;
        await using var swarm = await SwarmBench.StartAsync(env, "s2", ct);
        var (owner, serviceId, _) = await swarm.CreateAsync($"bench-{env.RunId}-s2", ct);
        var (node, containerId) = await swarm.RunningTaskAsync(serviceId, ct) ?? throw new InvalidOperationException("S2: the service has no running task");
        var engine = new Dictionary<string, string> { ["DOCKER_HOST"] = SwarmBench.Socket(node["dockhand-swarm-".Length..]).ToString() };
        context.Log($"S2: service {serviceId} runs on {node} as container {containerId[..12]}");

        const long rawBytes = 48L * 1024 * 1024; // base64 makes it 64 MiB
        const string file = "/tmp/dockhand-s2.b64";
        var made = await Shell.RunAsync("docker", ["exec", containerId, "sh", "-c", $"head -c {rawBytes.ToString(Inv)} /dev/zero | base64 > {file}"], engine, cancellationToken: ct);
        if (made.ExitCode != 0)
            throw new InvalidOperationException($"S2: could not write {file} in the container: {made.Stderr}");
        var command = $"cat {file}; echo __DO\"\"NE__";
        var rounds = context.Quick ? 1 : 3;
        var perRound = context.Quick ? 100 : 250;
        var webEcho = new List<double>();
        var cliEcho = new List<double>();
        var webRate = new List<double>();
        var cliRate = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var web in round % 2 == 0 ? new[] { true, false } : [false, true])
            {
                if (web)
                {
                    webEcho.AddRange(await EchoProbe.WebSocketSamplesAsync(await swarm.IssueLinkAsync(owner, serviceId, ct), perRound, 20, ct));
                    await using var terminal = await TerminalSocket.OpenAsync(swarm.Server.BaseAddress, await swarm.IssueLinkAsync(owner, serviceId, ct), ct);
                    await terminal.SendAsync("\u0015", ct);
                    await terminal.DrainAsync(TimeSpan.FromMilliseconds(50), ct);
                    var watch = Stopwatch.StartNew();
                    var streaming = terminal.StreamUntilAsync(EndsWithMarker(), ct);
                    await terminal.SendAsync(command + "\r", ct);
                    var bytes = await streaming;
                    webRate.Add(bytes / 1048576.0 / watch.Elapsed.TotalSeconds);
                }
                else
                {
                    cliEcho.AddRange(await EchoProbe.DockerExecSamplesAsync(containerId, perRound, 20, ct, engine));
                    var run = await Shell.RunAsync("docker", ["exec", "-t", containerId, "sh", "-c", command], engine, countOnly: true, cancellationToken: ct);
                    cliRate.Add(run.StdoutBytes / 1048576.0 / run.Elapsed.TotalSeconds);
                }
            }
            context.Log($"S2 round {round + 1}/{rounds}: echo p50 WebSocket {Stats.Percentile(webEcho, 50):0.000} ms, docker exec -it {Stats.Percentile(cliEcho, 50):0.000} ms; " +
                $"throughput WebSocket {webRate[^1]:0.0} MiB/s, docker exec -t {cliRate[^1]:0.0} MiB/s");
        }
        double w50 = Stats.Percentile(webEcho, 50), w99 = Stats.Percentile(webEcho, 99), c50 = Stats.Percentile(cliEcho, 50), c99 = Stats.Percentile(cliEcho, 99);
        double mw = Stats.Median(webRate), mc = Stats.Median(cliRate);
        return new Figure("S2", $"web terminal through a Swarm worker's engine: keystroke echo and `cat` of 64 MiB ({node})",
            $"echo p50 {F(w50, "0.000")} ms, p99 {F(w99, "0.000")} ms; {F(mw, "0.0")} MiB/s",
            $"`docker -H worker exec`: echo p50 {F(c50, "0.000")} ms, p99 {F(c99, "0.000")} ms; {F(mc, "0.0")} MiB/s",
            $"{F(w50 / c50)}× p50 echo, {F(mw / mc)}× throughput", "(none: a measurement)", null,
            new JsonObject
            {
                ["node"] = node, ["websocket_echo"] = Stats.Distribution(webEcho), ["docker_exec_echo"] = Stats.Distribution(cliEcho),
                ["websocket_echo_p50_ms"] = w50, ["websocket_echo_p99_ms"] = w99, ["docker_exec_echo_p50_ms"] = c50, ["docker_exec_echo_p99_ms"] = c99,
                ["websocket_mib_s"] = Format.Array(webRate), ["docker_exec_mib_s"] = Format.Array(cliRate),
                ["swarm"] = SwarmBench.Settings(),
                ["note"] = $"{rounds} rounds of {perRound} keys per path after 20 warm-up keys each, and one cat each, alternating which path goes first; " +
                    "the worker's engine is a unix socket on this machine, so the figure is Dockhand's routing and relay, not a network hop",
            });
    }

    /// <summary>True once "__DONE__" has been seen, also when it straddles two reads.</summary>
    private static Func<ReadOnlySpan<byte>, bool> EndsWithMarker()
    {
        var marker = "__DONE__"u8.ToArray();
        var carry = new byte[2 * marker.Length];
        var carried = 0;
        return frame =>
        {
            if (frame.IndexOf(marker) >= 0)
                return true;
            var head = frame[..Math.Min(marker.Length - 1, frame.Length)];
            head.CopyTo(carry.AsSpan(carried));
            if (carry.AsSpan(0, carried + head.Length).IndexOf(marker) >= 0)
                return true;
            var tail = frame[Math.Max(0, frame.Length - (marker.Length - 1))..];
            tail.CopyTo(carry);
            carried = tail.Length;
            return false;
        };
    }
}
