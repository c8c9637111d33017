using Microsoft.Playwright;

namespace Dockhand.Terminal.Tests.Support;

/// <summary>Debian's Chromium through Playwright: one browser, one context, one page, console errors collected.</summary>
public sealed class BrowserSession : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private BrowserSession(IPlaywright playwright, IBrowser browser, IBrowserContext context, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        Context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
                ConsoleErrors.Add(message.Text);
        };
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public List<string> ConsoleErrors { get; } = [];

    public static async Task<BrowserSession> LaunchAsync(int width = 1000, int height = 600)
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: run scripts/test.sh (it installs Debian's chromium).");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true, Args = ChromiumArgs });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height }, DeviceScaleFactor = 1 });
        // Every wait in a page (a selector, a function, a navigation) is bounded like the other waits of the tests: room
        // for a starved machine, where 20 s for a page to open its shell was once not enough. Only a failure waits this long.
        context.SetDefaultTimeout((float)Dockhand.Testing.Eventually.DefaultLimit.TotalMilliseconds);
        var page = await context.NewPageAsync();
        return new BrowserSession(playwright, browser, context, page);
    }

    public async ValueTask DisposeAsync()
    {
        await Context.DisposeAsync();
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
