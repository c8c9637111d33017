using System.Globalization;
using System.Net;
using System.Text.Json;
using Dockhand.Cli;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Tests.Operations;

/// <summary>LOG_FORMAT (text or json) and METRICS_URLS as `dockhand run` reads them.</summary>
public sealed class LogFormatTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-logs-").FullName;
    private readonly string _runId = "logs-" + Guid.NewGuid().ToString("N")[..12];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Dictionary<string, string?> Settings(string publicKey, string listenUrl) => new()
    {
        ["DISCORD_PUBLIC_KEY"] = publicKey,
        ["AUTHORIZED_USERS"] = "2000000000000000001",
        ["DATABASE_PATH"] = Path.Combine(_directory, "containers.db"),
        ["DEFAULT_IMAGE"] = "dockhand-test/busybox:1",
        ["CONTAINER_NETWORK"] = "none",
        ["CONTAINER_EXTRA_LABELS"] = "dockhand.test=" + _runId,
        ["TERMINAL_SERVICE_URL"] = "https://shell.example.test",
        ["LISTEN_URLS"] = listenUrl,
        ["METRICS_URLS"] = "http://127.0.0.1:0",
    };

    [Fact]
    public async Task Run_LogFormatJson_EveryLineIsOneJsonObjectWithUtcTimestampAndNoToken()
    {
        using var signer = new InteractionSigner();
        var listenUrl = $"http://127.0.0.1:{DockhandChild.FreeLoopbackPort()}";
        var settings = Settings(signer.PublicKeyHex, listenUrl);
        settings["LOG_FORMAT"] = "json";
        // An operator who turns request logging on still never gets a request URL (with its one-time token) in the log.
        settings["Logging__LogLevel__Default"] = "Debug";
        settings["Logging__LogLevel__Microsoft.AspNetCore"] = "Debug";
        const string secret = "tok-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

        var stdout = await RunUntilHealthyThenStopAsync(settings, listenUrl, $"/terminal/0123456789ab?token={secret}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.NotEmpty(lines);
        var events = lines.Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            Assert.Equal(JsonValueKind.Object, root.ValueKind);
            var timestamp = root.GetProperty("Timestamp").GetString()!;
            Assert.EndsWith("Z", timestamp, StringComparison.Ordinal);
            Assert.Equal(DateTimeKind.Utc, DateTime.Parse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal).Kind);
            return (EventId: root.GetProperty("EventId").GetInt32(), Category: root.GetProperty("Category").GetString()!, Message: root.GetProperty("Message").GetString()!,
                Level: root.GetProperty("LogLevel").GetString()!, State: root.GetProperty("State").Clone());
        }).ToList();
        // The same events and fields as the text format: e.g. the database line with its path as a field.
        var database = Assert.Single(events, e => e.EventId is 2060 or 2061);
        Assert.Equal(Path.Combine(_directory, "containers.db"), database.State.GetProperty("Path").GetString());
        Assert.Contains(events, e => e.EventId == 4300 && e.Message.StartsWith("Metrics (Prometheus) on http://127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(secret, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_DefaultLogFormat_OneLinePerEventStartingWithUtcTimestamp()
    {
        using var signer = new InteractionSigner();
        var listenUrl = $"http://127.0.0.1:{DockhandChild.FreeLoopbackPort()}";

        var stdout = await RunUntilHealthyThenStopAsync(Settings(signer.PublicKeyHex, listenUrl), listenUrl, "/health");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z (trce|dbug|info|warn|fail|crit): [^\\[ ]+\\[[0-9]+\\] ", line));
        Assert.Contains(lines, l => l.Contains("Dockhand.Containers.DatabaseMigrationService[206", StringComparison.Ordinal) && l.Contains(Path.Combine(_directory, "containers.db"), StringComparison.Ordinal));
    }

    /// <summary>Runs `dockhand run` until /health answers, requests <paramref name="path"/>, stops it with SIGTERM; returns its standard output.</summary>
    private async Task<string> RunUntilHealthyThenStopAsync(Dictionary<string, string?> settings, string listenUrl, string path)
    {
        await using var dockhand = DockhandChild.Start(_directory, settings, executable: null, "run");
        using var http = new HttpClient { BaseAddress = new Uri(listenUrl), Timeout = TimeSpan.FromSeconds(5) };
        await dockhand.WaitHealthyAsync(new Uri(listenUrl));
        await AnswersAsync(http, path);

        Assert.True(0 == await dockhand.TerminateAsync(), dockhand.Output);
        return dockhand.StandardOutput;
    }

    [Theory]
    [InlineData("LOG_FORMAT", "xml", "dockhand: configuration: LOG_FORMAT: 'xml' is not a log format; use text (the default) or json")]
    [InlineData("METRICS_URLS", "127.0.0.1:9464", "dockhand: configuration: METRICS_URLS: '127.0.0.1:9464' is not a URL to listen on, such as http://127.0.0.1:9464; leave METRICS_URLS empty to turn metrics off")]
    public async Task Run_InvalidSetting_Exits2WithOneLineNamingIt(string key, string value, string expected)
    {
        var settings = Settings(new string('a', 64), "http://127.0.0.1:0");
        settings[key] = value;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

        var exit = await CliApp.RunAsync(["run"], new CliContext(TextWriter.Synchronized(output), TextWriter.Synchronized(error), () => configuration, isTerminal: false), Ct);

        Assert.Equal(2, exit);
        Assert.Equal(expected, error.ToString().Trim());
    }

    private static async Task<bool> AnswersAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative), Ct);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
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
