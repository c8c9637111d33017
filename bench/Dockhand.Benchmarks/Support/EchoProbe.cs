using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Dockhand.Benchmarks.Support;

/// <summary>One key at a time on a web terminal, timed until its echo comes back (P3, P4 and P4's client process).</summary>
internal static class EchoProbe
{
    public static async Task<List<double>> SamplesAsync(TerminalSocket terminal, int keys, int warmup, CancellationToken cancellationToken)
    {
        var samples = new List<double>(keys);
        for (var i = 0; i < warmup + keys; i++)
        {
            if (i > 0 && i % 100 == 0)
            {
                await terminal.SendAsync("\u0015", cancellationToken); // Ctrl-U: clear the line now and then
                await terminal.DrainAsync(TimeSpan.FromMilliseconds(20), cancellationToken);
            }
            var watch = Stopwatch.StartNew();
            await terminal.SendAsync("x", cancellationToken);
            await terminal.ReadUntilAsync((frame, _) => frame.IndexOf((byte)'x') >= 0, cancellationToken);
            if (i >= warmup)
                samples.Add(watch.Elapsed.TotalMilliseconds);
        }
        return samples;
    }

    /// <summary>
    /// The same keys on a web terminal through ws_echo.py: one blocking loop in the same shape as the anchor's
    /// pty_echo.py, so neither path's figure carries a heavier client than the other's.
    /// </summary>
    public static Task<List<double>> WebSocketSamplesAsync(Uri link, int keys, int warmup, CancellationToken cancellationToken)
        => PythonSamplesAsync("ws_echo.py", link.AbsoluteUri, keys, warmup, null, cancellationToken);

    /// <summary>
    /// The anchor: the same keys through <c>docker exec -it CONTAINER sh</c> in a real pty (pty_echo.py); on another engine
    /// (a Swarm worker) when <paramref name="environment"/> sets DOCKER_HOST.
    /// </summary>
    public static Task<List<double>> DockerExecSamplesAsync(string containerId, int keys, int warmup, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
        => PythonSamplesAsync("pty_echo.py", containerId, keys, warmup, environment, cancellationToken);

    private static async Task<List<double>> PythonSamplesAsync(string scriptName, string target, int keys, int warmup,
        IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        var script = Path.Combine(AppContext.BaseDirectory, scriptName);
        var run = await Shell.RunAsync("python3", [script, target, keys.ToString(CultureInfo.InvariantCulture), warmup.ToString(CultureInfo.InvariantCulture)],
            environment, cancellationToken: cancellationToken);
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"{scriptName} failed: {run.Stderr}");
        return [.. JsonNode.Parse(run.Stdout)!["samples_ms"]!.AsArray().Select(v => v!.GetValue<double>())];
    }
}
