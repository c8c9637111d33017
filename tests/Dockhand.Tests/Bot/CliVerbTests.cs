using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Cli;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Tests.Bot;

/// <summary>`dockhand run` (and no verb) without a Discord transport, a real run stopped by cancellation, and `dockhand terminal --user`.</summary>
public sealed partial class CliVerbTests : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-cli-").FullName;
    private readonly string _runId = "bot-cli-" + Guid.NewGuid().ToString("N")[..12];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Dictionary<string, string?> Settings() => new()
    {
        ["DATABASE_PATH"] = Path.Combine(_directory, "containers.db"),
        ["DEFAULT_IMAGE"] = "dockhand-test/busybox:1",
        ["CONTAINER_NETWORK"] = "none",
        ["CONTAINER_EXTRA_LABELS"] = "dockhand.test=" + _runId,
        ["TERMINAL_SERVICE_URL"] = "https://shell.example.test",
        ["LISTEN_URLS"] = "http://127.0.0.1:0",
        ["METRICS_URLS"] = "http://127.0.0.1:0",
    };

    private static async Task<(int Exit, string Out, string Err)> RunAsync(Dictionary<string, string?> settings, CancellationToken cancellationToken, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var exit = await CliApp.RunAsync(args, new CliContext(TextWriter.Synchronized(output), TextWriter.Synchronized(error), () => configuration, isTerminal: false), cancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("run")]
    [InlineData]
    public async Task Run_WithNeitherTokenNorPublicKey_Exits2WithClearMessage(params string[] args)
    {
        var (exit, _, error) = await RunAsync(Settings(), Ct, args);

        Assert.Equal(2, exit);
        Assert.Equal("dockhand: " + RunVerb.NoTransportMessage, error.Trim());
    }

    [Fact]
    public async Task Run_WithBadAuthorizedUsers_Exits2NamingTheSetting()
    {
        var settings = Settings();
        settings["DISCORD_PUBLIC_KEY"] = new string('a', 64);
        settings["AUTHORIZED_USERS"] = "123,not-a-user";

        var (exit, _, error) = await RunAsync(settings, Ct, "run");

        Assert.Equal(2, exit);
        Assert.StartsWith("dockhand: configuration: AUTHORIZED_USERS: 'not-a-user' is not a Discord user id", error.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WithPublicKey_ServesHealthAndStopsGracefullyWhenCancelled()
    {
        var settings = Settings();
        settings["DISCORD_PUBLIC_KEY"] = new string('a', 64);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var run = CliApp.RunAsync(["run"], new CliContext(TextWriter.Synchronized(output), TextWriter.Synchronized(error), () => configuration, isTerminal: false), stop.Token);

        Match url;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(url = ListeningUrl().Match(error.ToString())).Success)
        {
            Assert.False(run.IsCompleted, "run ended early: " + error);
            Assert.True(DateTime.UtcNow < deadline, "run never reported its address: " + error);
            await Task.Delay(50, Ct);
        }
        using var http = new HttpClient { BaseAddress = new Uri(url.Groups[1].Value) };
        using var health = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct);
        using var empty = new StringContent("{}");
        using var interactions = await http.PostAsync(new Uri("/interactions", UriKind.Relative), empty, Ct);
        await stop.CancelAsync();
        var exit = await run.WaitAsync(TimeSpan.FromSeconds(20), Ct);

        Assert.Equal(200, (int)health.StatusCode);
        Assert.Contains("\"engine\"", await health.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(401, (int)interactions.StatusCode);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task Run_GatewayRejectsToken_Exits2WithTheGatewaysReason()
    {
        await using var gateway = new Dockhand.Discord.Testing.Gateway.LoopbackDiscordGateway();
        await gateway.StartAsync(Ct);
        // REST accepts the token (so start-up gets as far as the gateway); the gateway rejects it.
        await using var rest = await Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.StartAsync(token: "not-the-right-token", cancellationToken: Ct);
        var settings = Settings();
        settings["DISCORD_TOKEN"] = "not-the-right-token";
        settings["DISCORD_GATEWAY_URL"] = gateway.Url.AbsoluteUri;
        settings["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri;
        settings["DISCORD_APPLICATION_ID"] = rest.ApplicationId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (exit, _, error) = await RunAsync(settings, Ct, "run").WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal(2, exit);
        Assert.Contains("dockhand: stopped: Discord closed the gateway with 4004 (authentication failed)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RestRejectsTokenOnGatewayBot_Exits2WithTheSameSentenceAs4004()
    {
        // No DISCORD_GATEWAY_URL: the gateway URL comes from GET /gateway/bot, which the real Discord answers with 401
        // for a bad token before any gateway could close with 4004. Retrying cannot help.
        await using var rest = await Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.StartAsync(cancellationToken: Ct);
        var settings = Settings();
        settings["DISCORD_TOKEN"] = "not-the-right-token";
        settings["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri;
        settings["DISCORD_APPLICATION_ID"] = rest.ApplicationId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (exit, _, error) = await RunAsync(settings, Ct, "run").WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(2, exit);
        Assert.Contains("dockhand: stopped: Discord answered 401 to GET /gateway/bot (authentication failed): " +
            "the bot token is invalid. Check DISCORD_TOKEN (reset it in the Developer Portal if needed).", error, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-right-token", error, StringComparison.Ordinal);
        var gatewayBot = rest.RequestsTo(Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes.GatewayBot);
        Assert.Equal([401], gatewayBot.Select(r => r.Status)); // asked once, not retried
    }

    [Fact]
    public async Task Build_ConsoleLogger_WritesUtcTimestamps()
    {
        var settings = Settings();
        settings["DISCORD_PUBLIC_KEY"] = new string('a', 64);
        await using var app = DockhandHost.Build(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        // The simple console formatter reads the unnamed options.
        var console = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<Microsoft.Extensions.Logging.Console.SimpleConsoleFormatterOptions>>().CurrentValue;

        Assert.True(console.UseUtcTimestamp);
        Assert.Equal("yyyy-MM-ddTHH:mm:ss.fffZ ", console.TimestampFormat);
    }

    [Fact]
    public async Task Build_SocketTransport_SchedulesInline()
    {
        var settings = Settings();
        settings["DISCORD_PUBLIC_KEY"] = new string('a', 64);
        await using var app = DockhandHost.Build(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        // Two thread-pool hops fewer in a keystroke's round trip through the terminal (docs/performance.md, P3).
        var transport = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>>().Value;

        Assert.True(transport.UnsafePreferInlineScheduling);
    }

    [Fact]
    public async Task Terminal_UserWithoutContainer_Exits1WithSentence()
    {
        var other = await RunAsync(Settings(), Ct, "create", "--user", "4000000000000000009", "--name", "cli-other-" + _runId);
        Assert.True(other.Exit == 0, other.Err);

        var (exit, output, error) = await RunAsync(Settings(), Ct, "terminal", "--user", "4000000000000000001");

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal("dockhand: user 4000000000000000001 has no container; create one first with: dockhand create --user 4000000000000000001 --name NAME", error.Trim());
    }

    [Fact]
    public async Task Terminal_UserWithContainer_PrintsOneTimeUrl()
    {
        var user = "4000000000000000002";
        var created = await RunAsync(Settings(), Ct, "create", "--user", user, "--name", "cli-" + _runId);
        Assert.True(created.Exit == 0, created.Err);

        var (exit, output, _) = await RunAsync(Settings(), Ct, "terminal", "--user", user);
        var (jsonExit, json, _) = await RunAsync(Settings(), Ct, "terminal", "--user", user, "--json");

        Assert.Equal(0, exit);
        Assert.Matches("^https://shell\\.example\\.test/terminal/[0-9a-f]{64}\\?token=[A-Za-z0-9_-]{43}$", output.Trim());
        Assert.Equal(0, jsonExit);
        Assert.Contains("\"url\":\"https://shell.example.test/terminal/", json, StringComparison.Ordinal);
        Assert.NotEqual(output.Trim(), System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("url").GetString());
    }

    [Fact]
    public async Task Terminal_MoreLinksThanThePerMinuteLimit_Exits1SayingWhenToTryAgain()
    {
        var user = "4000000000000000005";
        var settings = Settings();
        settings["TERMINAL_LINKS_PER_MINUTE"] = "1";
        var created = await RunAsync(settings, Ct, "create", "--user", user, "--name", "cli-rate-" + _runId);
        Assert.True(created.Exit == 0, created.Err);
        var first = await RunAsync(settings, Ct, "terminal", "--user", user);
        Assert.True(first.Exit == 0, first.Err);

        var (exit, output, error) = await RunAsync(settings, Ct, "terminal", "--user", user);

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Matches("^dockhand: user 4000000000000000005 has had 1 terminal links in the last minute \\(TERMINAL_LINKS_PER_MINUTE\\); try again in [0-9]{1,2} seconds$", error.Trim());
    }

    [Fact]
    public async Task Terminal_StoppedContainer_Exits1WithoutIssuingALink()
    {
        var user = "4000000000000000003";
        var created = await RunAsync(Settings(), Ct, "create", "--user", user, "--name", "cli-stopped-" + _runId);
        Assert.True(created.Exit == 0, created.Err);
        var stopped = await RunAsync(Settings(), Ct, "stop", "--user", user);
        Assert.True(stopped.Exit == 0, stopped.Err);

        var (exit, output, error) = await RunAsync(Settings(), Ct, "terminal", "--user", user);

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"dockhand: The container 'cli-stopped-{_runId}' is exited, not running; start it, then ask for a new link. (dockhand start --user {user})", error.Trim());
        await using var connection = new SqliteConnection($"Data Source={Settings()["DATABASE_PATH"]}");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM terminal_links) || '|' || (SELECT group_concat(outcome) FROM audit_log WHERE action = 'terminal-link')";
        Assert.Equal("0|refused", (string?)await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task Terminal_NoDatabaseFile_Exits2NamingThePathAndCreatesNothing()
    {
        var (exit, _, error) = await RunAsync(Settings(), Ct, "terminal", "--user", "4000000000000000005");

        Assert.Equal(2, exit);
        Assert.Equal($"dockhand: no database at {Settings()["DATABASE_PATH"]}; run dockhand from the directory that holds it, or set DATABASE_PATH", error.Trim());
        Assert.False(File.Exists(Settings()["DATABASE_PATH"]));
    }

    [Fact]
    public async Task Terminal_InvalidServiceUrl_Exits2NamingTheSetting()
    {
        var settings = Settings();
        settings["TERMINAL_SERVICE_URL"] = "not a url";

        var (exit, _, error) = await RunAsync(settings, Ct, "terminal", "--user", "4000000000000000004");

        Assert.Equal(2, exit);
        Assert.StartsWith("dockhand: configuration: TERMINAL_SERVICE_URL", error.Trim(), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"running on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningUrl();

    public async ValueTask DisposeAsync()
    {
        using var docker = new DockerClientBuilder().WithEndpoint(new Uri(Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock")).Build();
        var mine = await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["dockhand.test=" + _runId] = true } },
        });
        foreach (var container in mine)
            await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
        var volumes = await docker.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["dockhand.test=" + _runId] = true } },
        });
        foreach (var volume in volumes.Volumes ?? [])
            await docker.Volumes.RemoveAsync(volume.Name, force: true);
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
