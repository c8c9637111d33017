using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;

namespace Dockhand.Benchmarks;

/// <summary>The console table, bench/results/latest.json and latest.md (the table the README shows).</summary>
internal static class Report
{
    public static string DefaultDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Dockhand.slnx")))
                return Path.Combine(dir.FullName, "bench", "results");
        return Path.Combine(Environment.CurrentDirectory, "bench-results");
    }

    public static async Task<JsonObject> MachineAsync(CancellationToken cancellationToken)
    {
        string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
        var cpu = Read("/proc/cpuinfo").Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var memory = Read("/proc/meminfo").Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "";
        var engine = await Shell.RunAsync("docker", ["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"], cancellationToken: cancellationToken);
        var kernel = await Shell.RunAsync("uname", ["-r"], cancellationToken: cancellationToken);
        return new JsonObject
        {
            ["cpu"] = cpu,
            ["cores"] = Environment.ProcessorCount,
            ["memory"] = memory,
            ["kernel"] = kernel.Stdout.Trim(),
            ["dockerd"] = engine.Stdout.Trim(),
            ["dotnet"] = Environment.Version.ToString(),
            ["load_average_at_start"] = Read("/proc/loadavg").Split(' ').Take(3).Aggregate((a, b) => a + " " + b),
        };
    }

    public static string Table(IReadOnlyList<Figure> figures)
    {
        var rows = figures.Select(f => new[] { f.Id, f.Dockhand, f.Anchor, f.Ratio, f.Target, Verdict(f) }).ToList();
        string[] header = ["id", "Dockhand", "anchor (same run)", "ratio", "target", "met"];
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))));
        text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
            text.AppendLine(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))));
        return text.ToString();
    }

    public static string Markdown(IReadOnlyList<Figure> figures, JsonObject machine, DateTimeOffset started, bool quick)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Measured {started:yyyy-MM-dd HH:mm} UTC{(quick ? " (quick run: small N)" : "")} on {machine["cpu"]}, {machine["cores"]} cores, {machine["memory"]}, Linux {machine["kernel"]}, dockerd {machine["dockerd"]}, .NET {machine["dotnet"]}; load average at start {machine["load_average_at_start"]}; the server: {machine["server"]}.");
        text.AppendLine();
        text.AppendLine("| id | what | Dockhand | anchor (same run) | ratio | target | met |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var f in figures)
            text.AppendLine(CultureInfo.InvariantCulture, $"| {f.Id} | {f.What} | {f.Dockhand} | {f.Anchor} | {f.Ratio} | {f.Target} | {Verdict(f)} |");
        return text.ToString();
    }

    public static async Task<(string Json, string Markdown)> WriteAsync(string directory, IReadOnlyList<Figure> figures, JsonObject machine, DateTimeOffset started,
        bool quick, JsonObject? profile, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var json = new JsonObject
        {
            ["started_utc"] = started.ToString("O", CultureInfo.InvariantCulture),
            ["quick"] = quick,
            ["machine"] = machine,
            ["figures"] = new JsonArray([.. figures.Select(f => (JsonNode)new JsonObject
            {
                ["id"] = f.Id, ["what"] = f.What, ["dockhand"] = f.Dockhand, ["anchor"] = f.Anchor, ["ratio"] = f.Ratio, ["target"] = f.Target,
                ["met"] = f.Met, ["data"] = f.Data.DeepClone(),
            })]),
            ["profile"] = profile,
        };
        var jsonPath = Path.Combine(directory, "latest.json");
        var markdownPath = Path.Combine(directory, "latest.md");
        await File.WriteAllTextAsync(jsonPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", cancellationToken);
        await File.WriteAllTextAsync(markdownPath, Markdown(figures, machine, started, quick), cancellationToken);
        return (jsonPath, markdownPath);
    }

    private static string Verdict(Figure f) => f.Met switch { true => "yes", false => "no", null => "—" };
}
