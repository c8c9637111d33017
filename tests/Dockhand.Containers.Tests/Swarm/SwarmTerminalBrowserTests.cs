using System.Text.RegularExpressions;
using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>
/// The whole way on a Swarm: a real <c>dockhand run</c> with CONTAINER_BACKEND=swarm (its start-up measures each node's
/// no-new-privileges), a create that lands on a worker, a one-time link from <c>dockhand terminal</c>, and Debian's
/// Chromium typing into the shell, which runs through that worker's engine (the manager cannot exec there).
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmTerminalBrowserTests(SwarmTestBed bed) : IDisposable
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private static readonly string[] ChromiumArgs =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-swweb-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(int Code, string Out)> CliAsync(Dictionary<string, string?> settings, params string[] args)
    {
        var run = await DockhandChild.RunAsync(_directory, settings, args, cancellationToken: Ct);
        return (run.ExitCode, run.Stdout + run.Stderr);
    }

    [Fact]
    public async Task Terminal_OnSwarm_ChromiumShellRunsOnTheWorkerThroughItsEngine()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: run scripts/test.sh (it installs Debian's chromium).");
        var settings = bed.ProcessSettings(_directory);
        // The runtime logs where it routes each shell at Debug.
        var debug = new Dictionary<string, string?> { ["Logging__LogLevel__Dockhand.Containers.Swarm"] = "Debug" };
        await using var bot = await BotProcess.StartAsync(_directory, settings, debug, terminalLinksHere: true);
        settings["TERMINAL_SERVICE_URL"] = bot.BaseUrl.ToString().TrimEnd('/');
        var owner = Harness.NewOwner().ToString();
        var name = Harness.NewName("swweb");
        Assert.Equal(0, (await CliAsync(settings, "create", "--user", owner, "--name", name)).Code);
        try
        {
            var (code, output) = await CliAsync(settings, "terminal", "--user", owner);
            Assert.Equal(0, code);
            var link = Regex.Match(output, @"http://127\.0\.0\.1:\d+/terminal/\S+").Value;
            Assert.False(string.IsNullOrEmpty(link), $"no terminal link in: {output}");

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true, Args = ChromiumArgs });
            var page = await browser.NewPageAsync();
            await page.GotoAsync(link);
            await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('#'))",
                null, new PageWaitForFunctionOptions { Timeout = 30_000 });
            await page.Keyboard.TypeAsync("echo on-$(hostname)-$((6*7))");
            await page.Keyboard.PressAsync("Enter");

            // The container's hostname is the service's name: the shell is in the task's container on the worker.
            await page.WaitForFunctionAsync($"() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === 'on-{name}-42')",
                null, new PageWaitForFunctionOptions { Timeout = 20_000 });
            Assert.Contains("Shell for service", bot.Output, StringComparison.Ordinal);
            Assert.Matches(@"routed to node dockhand-swarm-worker-\d", bot.Output);
        }
        finally
        {
            Assert.Equal(0, (await CliAsync(settings, "destroy", "--user", owner, "--purge")).Code);
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
