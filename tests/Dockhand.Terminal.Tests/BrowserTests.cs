using System.Text.RegularExpressions;
using Dockhand.Containers;
using Dockhand.Terminal.Tests.Support;
using Microsoft.Playwright;

namespace Dockhand.Terminal.Tests;

/// <summary>A real browser (Debian's Chromium through Playwright) opens a one-time link and uses the shell.</summary>
[Collection(DockerCollection.Name)]
public sealed partial class BrowserTests(DockerFixture docker)
{
    private const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    [Fact]
    public async Task Browser_OneTimeLink_OpensWorkingShellAndSecondUseSaysUsed()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: run scripts/test.sh (it installs Debian's chromium).");
        var ct = TestContext.Current.CancellationToken;
        var container = await docker.StartContainerAsync(DockerFixture.BashImage, cancellationToken: ct);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: ct);
        var link = await host.Links.IssueAsync(new OwnerId(80351110224678912), container, ct);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1000, Height = 600 } });
        var page = await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
                consoleErrors.Add(message.Text);
        };

        var response = await page.GotoAsync(link.Url.ToString());
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal($"{host.BaseAddress.GetLeftPart(UriPartial.Authority)}/terminal/{container}", page.Url);

        // The prompt: bash as root prints "...:/# ".
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('/#'))",
            null, new PageWaitForFunctionOptions { Timeout = 20_000 });
        await page.Locator(".xterm").ClickAsync();
        await page.Keyboard.TypeAsync("echo $((6*7))");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === '42')",
            null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        var rows = await page.Locator(".xterm-rows").InnerTextAsync();
        Assert.Contains("42", rows, StringComparison.Ordinal);

        // The terminal follows the window: a wider window gives more columns to the shell.
        var before = await SttySizeAsync(page);
        await page.SetViewportSizeAsync(1400, 800);
        await page.WaitForTimeoutAsync(400);
        var after = await SttySizeAsync(page);
        Assert.True(after.Columns > before.Columns && after.Rows > before.Rows, $"stty size {before} -> {after}");

        // A reload re-attaches within the grace window: the same shell, with its recent output replayed.
        await page.Keyboard.TypeAsync("KEPT=still-here");
        await page.Keyboard.PressAsync("Enter");
        await page.ReloadAsync();
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === '42')",
            null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        await page.Locator(".xterm").ClickAsync();
        await page.Keyboard.TypeAsync("echo $KEPT");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === 'still-here')",
            null, new PageWaitForFunctionOptions { Timeout = 15_000 });

        var screenshot = Artifacts.PathOf("terminal-browser.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
        Console.WriteLine($"artifact: {screenshot}");
        TestContext.Current.SendDiagnosticMessage($"artifact: {screenshot}");
        Assert.True(new FileInfo(screenshot).Length > 1000);

        // The same link again (a reload of the one-time URL): the "used" page, 410.
        var second = await context.NewPageAsync();
        var used = await second.GotoAsync(link.Url.ToString());
        Assert.NotNull(used);
        Assert.Equal(410, used.Status);
        Assert.Contains("already been used", await second.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        await second.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("terminal-browser-used.png") });

        // Removing the container ends the session: the page shows why.
        await docker.RemoveContainerAsync(container, ct);
        await page.Locator("#ended").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = 20_000 });
        // "removed" normally; "stopped" when the engine reports the stop before the removal (a busy machine).
        Assert.Matches("The container (was removed|stopped)", await page.Locator("#ended-reason").InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("terminal-browser-ended.png") });

        Assert.DoesNotContain(consoleErrors, e => e.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
    }

    private static async Task<(int Rows, int Columns)> SttySizeAsync(IPage page)
    {
        var marker = "size-" + Guid.NewGuid().ToString("N")[..6];
        await page.Keyboard.TypeAsync($"echo {marker} $(stty size)");
        await page.Keyboard.PressAsync("Enter");
        var handle = await page.WaitForFunctionAsync(
            $"() => [...document.querySelectorAll('.xterm-rows > div')].map(r => r.textContent.trim()).find(t => /^{marker} \\d+ \\d+$/.test(t))",
            null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        var text = await handle.JsonValueAsync<string>();
        var match = SizeLine().Match(text);
        return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@" (\d+) (\d+)$")]
    private static partial Regex SizeLine();
}
