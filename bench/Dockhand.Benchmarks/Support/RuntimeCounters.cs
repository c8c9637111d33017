using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Dockhand.Benchmarks.Support;

/// <summary>
/// The server's System.Runtime counters (GC collections and pause time, JIT, lock contention, thread-pool work) over a
/// window, read from outside with <c>dotnet-counters collect</c> (a NuGet tool: <c>dotnet tool install --tool-path DIR
/// dotnet-counters</c>, then <c>--dotnet-counters DIR/dotnet-counters</c>). Nothing in src/ changes for it.
/// </summary>
internal sealed class RuntimeCounters
{
    private readonly Process _collector;
    private readonly string _csv;

    private RuntimeCounters(Process collector, string csv)
    {
        _collector = collector;
        _csv = csv;
    }

    /// <summary>The dotnet-counters executable (--dotnet-counters), or null when counters are not collected.</summary>
    public static string? Tool { get; set; }

    /// <summary>Starts collecting from <paramref name="pid"/> every second; null when no tool is configured.</summary>
    public static async Task<RuntimeCounters?> StartAsync(int pid, string directory, CancellationToken cancellationToken)
    {
        if (Tool is null)
            return null;
        var csv = Path.Combine(directory, $"counters-{pid.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..6]}.csv");
        var info = new ProcessStartInfo(Tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "collect", "-p", pid.ToString(CultureInfo.InvariantCulture), "--counters", "System.Runtime", "--refresh-interval", "1", "--format", "csv", "-o", csv })
            info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet-counters did not start");
        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
        // The session is live once the first interval is written.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && !(File.Exists(csv) && new FileInfo(csv).Length > 100))
            await Task.Delay(50, cancellationToken);
        return new RuntimeCounters(process, csv);
    }

    /// <summary>Stops the collector (SIGINT, as Ctrl-C) and sums the per-second rates over the window.</summary>
    public async Task<JsonObject> StopAsync()
    {
        using (var interrupt = Process.Start("kill", ["-INT", _collector.Id.ToString(CultureInfo.InvariantCulture)]))
            await interrupt.WaitForExitAsync();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _collector.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _collector.Kill();
        }
        _collector.Dispose();
        var totals = new SortedDictionary<string, double>(StringComparer.Ordinal);
        var intervals = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.Exists(_csv) ? File.ReadLines(_csv).Skip(1) : [])
        {
            var fields = line.Split(',');
            if (fields.Length < 5 || fields[3] != "Rate" || !double.TryParse(fields[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                continue;
            intervals.Add(fields[0]);
            var name = string.Join(",", fields[2..^2]);
            totals[name] = totals.GetValueOrDefault(name) + value;
        }
        var result = new JsonObject { ["seconds"] = intervals.Count };
        foreach (var (name, total) in totals)
            result[name] = Math.Round(total, 6);
        return result;
    }
}
