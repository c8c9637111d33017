using System.Globalization;
using System.Text.Json;

namespace Dockhand.Tests.Deployment;

/// <summary>The release binary scripts/publish.sh makes (Native AOT) runs the bot and the CLI as the JIT build does.</summary>
[Collection(PublishedBinaryCollection.Name)]
public sealed class PublishedBinaryTests(PublishedBinary published) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-published-").FullName;

    [Fact]
    public async Task PublishedBinary_Run_AnswersHealthThenListJsonReadsItsDatabaseAndSigtermExitsZero()
    {
        TestContext.Current.SendDiagnosticMessage($"scripts/publish.sh took {published.PublishTime.TotalSeconds:F0} s");
        var listen = new Uri($"http://127.0.0.1:{DockhandChild.FreeLoopbackPort()}");
        var settings = new Dictionary<string, string?>
        {
            ["DISCORD_PUBLIC_KEY"] = new string('a', 64),
            ["DATABASE_PATH"] = Path.Combine(_directory, "containers.db"),
            ["DEFAULT_IMAGE"] = "dockhand-test/busybox:1",
            ["CONTAINER_NETWORK"] = "none",
            ["LISTEN_URLS"] = listen.ToString().TrimEnd('/'),
            ["METRICS_URLS"] = "http://127.0.0.1:0",
        };

        await using var bot = DockhandChild.Start(_directory, settings, published.Executable, "run");
        var ready = await bot.WaitHealthyAsync(listen);
        TestContext.Current.SendDiagnosticMessage($"published binary: /health 200 after {ready.TotalMilliseconds:F0} ms");
        // `dockhand health`, the Docker image's HEALTHCHECK, asks the running bot; it exits 2 once nothing answers (below).
        var health = await Shell.RunAsync(published.Executable, ["health"], _directory, new Dictionary<string, string> { ["LISTEN_URLS"] = settings["LISTEN_URLS"]! });
        Assert.True(health.ExitCode == 0, health.ToString());
        Assert.Contains("\"status\":\"healthy\"", health.StandardOutput, StringComparison.Ordinal);

        // The CLI verb reads the database `run` created (instance id included) and talks to the engine.
        var list = await Shell.RunAsync(published.Executable, ["list", "--json"], _directory,
            settings.Where(s => s.Value is not null).ToDictionary(s => s.Key, s => s.Value!));
        Assert.True(list.ExitCode == 0, list.ToString());
        using var json = JsonDocument.Parse(list.StandardOutput);
        Assert.Matches("^[0-9a-f]{16}$", json.RootElement.GetProperty("instance").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("total").GetInt32());

        var exit = await bot.TerminateAsync();
        Assert.True(exit == 0, $"exit {exit?.ToString(CultureInfo.InvariantCulture) ?? "(hung)"} after SIGTERM:\n{bot.Output}");
        var down = await Shell.RunAsync(published.Executable, ["health"], _directory, new Dictionary<string, string> { ["LISTEN_URLS"] = settings["LISTEN_URLS"]! });
        Assert.Equal(2, down.ExitCode);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
