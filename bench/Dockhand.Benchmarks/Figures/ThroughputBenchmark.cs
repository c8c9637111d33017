using System.Diagnostics;
using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P2: `cat` of a 64 MiB file written into the container once before timing, through the web terminal's WebSocket and
/// through `docker exec -t`, alternating.
/// </summary>
internal sealed class ThroughputBenchmark : IFigureBenchmark
{
    public string Id => "P2";

    public bool UsesMainServer => true;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var ct = cancellationToken;
        var quick = context.Quick;
        const long rawBytes = 48L * 1024 * 1024; // base64 makes it 64 MiB
        const string file = "/tmp/dockhand-p2.b64";
        // The file is made once, outside the timing: generating it on the fly (head | base64) capped both paths at
        // busybox base64's speed, so the ratio said nothing about the terminal. Both paths now time a plain cat.
        var command = $"cat {file}; echo __DO\"\"NE__";
        var (owner, id) = await context.TerminalContainerAsync(0, ct);
        var made = await Shell.RunAsync("docker", ["exec", id, "sh", "-c", $"head -c {rawBytes.ToString(Inv)} /dev/zero | base64 > {file}"], cancellationToken: ct);
        if (made.ExitCode != 0)
            throw new InvalidOperationException($"P2: could not write {file} in the container: {made.Stderr}");
        var runs = quick ? 1 : 3;
        var web = new List<double>();
        var cli = new List<double>();
        long webBytes = 0, cliBytes = 0, frames = 0;
        for (var i = 0; i < runs; i++)
        {
            foreach (var kind in i % 2 == 0 ? new[] { 0, 1 } : [1, 0])
            {
                if (kind == 0)
                {
                    await using var terminal = await context.OpenTerminalAsync(owner, id, ct);
                    var marker = "__DONE__"u8.ToArray();
                    var carry = new byte[2 * marker.Length];
                    var carried = 0;
                    var watch = Stopwatch.StartNew();
                    var streaming = terminal.StreamUntilAsync(frame =>
                    {
                        if (frame.IndexOf(marker) >= 0)
                            return true;
                        // The marker may straddle two reads: look at the seam only.
                        var head = frame[..Math.Min(marker.Length - 1, frame.Length)];
                        head.CopyTo(carry.AsSpan(carried));
                        if (carry.AsSpan(0, carried + head.Length).IndexOf(marker) >= 0)
                            return true;
                        var tail = frame[Math.Max(0, frame.Length - (marker.Length - 1))..];
                        tail.CopyTo(carry);
                        carried = tail.Length;
                        return false;
                    }, ct);
                    await terminal.SendAsync(command + "\r", ct);
                    webBytes = await streaming;
                    frames = terminal.Frames;
                    web.Add(webBytes / 1048576.0 / watch.Elapsed.TotalSeconds);
                }
                else
                {
                    var run = await Shell.RunAsync("docker", ["exec", "-t", id, "sh", "-c", command], countOnly: true, cancellationToken: ct);
                    cliBytes = run.StdoutBytes;
                    cli.Add(cliBytes / 1048576.0 / run.Elapsed.TotalSeconds);
                }
            }
            context.Log($"P2 run {i + 1}/{runs}: WebSocket {web[^1]:0.0} MiB/s ({frames} reads, {webBytes / Math.Max(1, frames)} B each), docker exec -t {cli[^1]:0.0} MiB/s");
        }
        double mw = Stats.Median(web), mc = Stats.Median(cli);
        return new Figure("P2", "terminal throughput: `cat` of a 64 MiB file made beforehand, from the container's pty to a WebSocket client",
            $"{F(mw, "0.0")} MiB/s", $"`docker exec -t` {F(mc, "0.0")} MiB/s", $"{F(mw / mc)}×", "≥ 1.0×", mw / mc >= 1.0,
            new JsonObject
            {
                ["websocket_mib_s"] = Format.Array(web), ["docker_exec_mib_s"] = Format.Array(cli), ["websocket_bytes"] = webBytes, ["docker_exec_bytes"] = cliBytes, ["websocket_reads"] = frames,
                ["websocket_mean_read_bytes"] = frames == 0 ? 0 : webBytes / (double)frames,
                ["ratio"] = mw / mc, ["note"] = "the docker exec -t time includes starting the CLI and the exec (about 0.1 s); the WebSocket time starts at an attached, idle shell",
            });
    }
}
