using System.Text.RegularExpressions;
using Dockhand.Containers;
using Dockhand.Terminal.Tests.Support;
using Microsoft.Playwright;

namespace Dockhand.Terminal.Tests;

/// <summary>A real browser (Debian's Chromium through Playwright) opens a one-time link and uses the shell.</summary>
[Collection(DockerCollection.Name)]
public sealed partial class BrowserTests(EngineFixture docker)
{
    [Fact]
    public async Task Browser_OneTimeLink_OpensWorkingShellWithNoClickAndSecondUseSaysUsed()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = await docker.StartContainerAsync(EngineFixture.BashImage, name: "alice-dev", cancellationToken: ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: ct);
        var link = await host.Links.IssueAsync(new OwnerId(80351110224678912), container, ct);
        await using var browser = await BrowserSession.LaunchAsync();
        var page = browser.Page;

        var response = await page.GotoAsync(link.Url.ToString());
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);

        // The prompt: bash as root prints "...:/# ".
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('/#'))");
        // Redeemed: the token is gone from the address bar, and the page says whose container this is.
        Assert.Equal($"{host.BaseAddress.GetLeftPart(UriPartial.Authority)}/terminal/{container}", page.Url);
        Assert.Equal("Container alice-dev \u00b7 owner 80351110224678912", await page.Locator("#whose").InnerTextAsync());
        // No click: the terminal has the keyboard as soon as the shell is there.
        await page.Keyboard.TypeAsync("echo $((6*7))");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === '42')");
        var rows = await page.Locator(".xterm-rows").InnerTextAsync();
        Assert.Contains("42", rows, StringComparison.Ordinal);

        // The terminal follows the window: a wider window gives more columns to the shell.
        var before = await SttySizeAsync(page);
        await page.SetViewportSizeAsync(1400, 800);
        // The page resizes after a short debounce; ask the shell until it sees the new size (each ask waits for its answer).
        var after = before;
        for (var attempt = 0; attempt < 20 && after == before; attempt++)
            after = await SttySizeAsync(page);
        Assert.True(after.Columns > before.Columns && after.Rows > before.Rows, $"stty size {before} -> {after}");

        // A reload re-attaches within the grace window: the same shell, with its recent output replayed.
        await page.Keyboard.TypeAsync("KEPT=still-here");
        await page.Keyboard.PressAsync("Enter");
        await page.ReloadAsync();
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === '42')");
        await page.Keyboard.TypeAsync("echo $KEPT");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === 'still-here')");

        var screenshot = Artifacts.PathOf("terminal-browser.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
        Console.WriteLine($"artifact: {screenshot}");
        TestContext.Current.SendDiagnosticMessage($"artifact: {screenshot}");
        // Painted, not only in the DOM: the row that says still-here has lit pixels on screen, and an empty row has none.
        var painted = await page.EvaluateAsync<string>("""
            () => {
              const all = [...document.querySelectorAll('.xterm-rows > div')];
              const box = r => { const b = r.getBoundingClientRect(); return { x: b.left, y: b.top, width: b.width, height: b.height }; };
              const text = all.find(r => r.textContent.trim() === 'still-here');
              const empty = all.slice().reverse().find(r => r.textContent.trim() === '');
              return JSON.stringify({ text: text && box(text), empty: empty && box(empty) });
            }
            """);
        var boxes = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, Clip?>>(painted, WebJson)!;
        Assert.True(boxes["text"] is not null && boxes["empty"] is not null, painted);
        var litText = await CountLitPixelsAsync(browser.Context, await page.ScreenshotAsync(new PageScreenshotOptions { Clip = boxes["text"] }));
        var litEmpty = await CountLitPixelsAsync(browser.Context, await page.ScreenshotAsync(new PageScreenshotOptions { Clip = boxes["empty"] }));
        Assert.True(litText >= 20 && litEmpty == 0, $"lit pixels: row 'still-here' {litText}, an empty row {litEmpty} (see {screenshot})");

        // The same link again (opened in another tab): the page redeems, hears 410 and says the link was used.
        var second = await browser.Context.NewPageAsync();
        var used = await second.GotoAsync(link.Url.ToString());
        Assert.NotNull(used);
        await second.Locator("#ended").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        Assert.Equal("Link already used", await second.Locator("#ended-title").InnerTextAsync());
        Assert.Contains("already been used", await second.Locator("#ended-reason").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal("HTTP 410", await second.Locator("#ended-status").InnerTextAsync());
        await second.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("terminal-browser-used.png") });

        // Removing the container ends the session: the page shows why.
        await docker.RemoveContainerAsync(container, ct);
        await page.Locator("#ended").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        // "removed" normally; "stopped" when the engine reports the stop before the removal (a busy machine).
        Assert.Matches("The container (was removed|stopped)", await page.Locator("#ended-reason").InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("terminal-browser-ended.png") });

        Assert.DoesNotContain(browser.ConsoleErrors, e => e.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Browser_LinkOpenedInHiddenTab_RedeemsOnlyOnceShown()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: ct);
        var link = await host.Links.IssueAsync(new OwnerId(80351110224678912), container, ct);
        await using var browser = await BrowserSession.LaunchAsync();
        var page = browser.Page;
        // A background tab: the page reports itself hidden until the test "switches" to it.
        await page.AddInitScriptAsync("""
            window.__shown = false;
            Object.defineProperty(document, 'visibilityState', { get: () => window.__shown ? 'visible' : 'hidden' });
            """);
        var redeems = 0;
        page.Request += (_, request) =>
        {
            if (request.Method == "POST")
                Interlocked.Increment(ref redeems);
        };

        await page.GotoAsync(link.Url.ToString(), new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });

        Assert.Equal(0, Volatile.Read(ref redeems));
        Assert.Equal("Opening your link\u2026", await page.Locator("#status").InnerTextAsync());
        Assert.IsType<TokenCheck.Valid>(await host.Links.CheckAsync(System.Web.HttpUtility.ParseQueryString(link.Url.Query)["token"], container, ct));

        await page.EvaluateAsync("() => { window.__shown = true; document.dispatchEvent(new Event('visibilitychange')); }");

        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('/ #'))");
        Assert.Equal(1, Volatile.Read(ref redeems));
        Assert.IsType<TokenCheck.Used>(await host.Links.CheckAsync(System.Web.HttpUtility.ParseQueryString(link.Url.Query)["token"], container, ct));
    }

    [Fact]
    public async Task Browser_PageReachesAnotherProcess_PrintsTheNewShellNoticeAndTheFirstPageSaysOpenedElsewhere()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = await docker.StartContainerAsync(EngineFixture.BashImage, cancellationToken: ct);
        await using var a = await TerminalHost.StartAsync(cancellationToken: ct);
        await using var b = await TerminalHost.StartAsync(databasePath: a.DatabasePath, cancellationToken: ct);
        var link = await a.Links.IssueAsync(new OwnerId(80351110224678912), container, ct);
        await using var browser = await BrowserSession.LaunchAsync();
        await browser.Page.GotoAsync(link.Url.ToString());
        await browser.Page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('/#'))");

        // The same session's address, served by process B (as behind a load balancer after A went away): the browser
        // sends B the session cookie (cookies are per host, not per port) and B opens a new shell.
        var moved = await browser.Context.NewPageAsync();
        await moved.GotoAsync(new Uri(b.BaseAddress, new Uri(browser.Page.Url).AbsolutePath).ToString());
        await moved.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('/#'))");

        var rows = await moved.Locator(".xterm-rows").InnerTextAsync();
        Assert.Contains("[Dockhand] " + TerminalSessions.ReopenedNotice[..40], rows.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(container, Assert.Single(b.Sessions.All).ContainerId);
        await browser.Page.Locator("#ended").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        Assert.Equal(TerminalEndReasons.OpenedElsewhere, await browser.Page.Locator("#ended-reason").InnerTextAsync());
        await moved.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("terminal-browser-new-shell.png") });
    }

    /// <summary>
    /// Glyphs that sit low or high must be painted, not clipped by the row: xterm.js with DejaVu Sans Mono at 14 px and a
    /// line height of 1 cut the underscore off entirely in Debian's Chromium (<c>echo a_b</c> showed as <c>a b</c>), while
    /// the text in the DOM was right. So this test reads pixels: a screenshot of the row, cut into the cells of each glyph.
    /// </summary>
    [Fact]
    public async Task Browser_UnderscoreAndLowOrHighGlyphs_ArePaintedInTheirCells()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = await docker.StartContainerAsync(EngineFixture.BashImage, cancellationToken: ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: ct);
        var link = await host.Links.IssueAsync(new OwnerId(80351110224678912), container, ct);
        await using var browser = await BrowserSession.LaunchAsync();
        var page = browser.Page;
        await page.GotoAsync(link.Url.ToString());
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.includes('/#'))");

        const string Sample = "a_b g y | ^ ~";
        await page.Keyboard.TypeAsync($"echo '{Sample}'");
        await page.Keyboard.PressAsync("Enter");
        // The output row starts at column 0 with the sample; measure each character's box with a DOM Range over the row's text.
        var layout = await page.WaitForFunctionAsync("""
            (sample) => {
              const row = [...document.querySelectorAll('.xterm-rows > div')].find(r => r.textContent.replace(/\s+$/, '') === sample);
              if (!row) return null;
              const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
              const boxes = [];
              let offset = 0, node;
              while ((node = walker.nextNode()) && boxes.length < sample.length) {
                for (let i = 0; i < node.data.length && offset < sample.length; i++, offset++) {
                  const range = document.createRange();
                  range.setStart(node, i);
                  range.setEnd(node, i + 1);
                  const r = range.getBoundingClientRect();
                  boxes.push({ x: r.left, width: r.width });
                }
              }
              const rowBox = row.getBoundingClientRect();
              return JSON.stringify({ top: rowBox.top, height: rowBox.height, left: rowBox.left, width: rowBox.width, boxes });
            }
            """, Sample, null);
        var geometry = System.Text.Json.JsonSerializer.Deserialize<RowLayout>(await layout.JsonValueAsync<string>(), WebJson)!;
        // Wait until the text is painted, not just in the DOM: two frames.
        await page.EvaluateAsync("() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)))");

        var clip = new Clip { X = geometry.Left, Y = geometry.Top, Width = geometry.Width, Height = geometry.Height };
        var crop = Artifacts.PathOf("terminal-glyphs-row.png");
        var png = await page.ScreenshotAsync(new PageScreenshotOptions { Clip = clip, Path = crop });
        TestContext.Current.SendDiagnosticMessage($"artifact: {crop}");

        // Decode the PNG in a blank page (no CSP there) and count lit pixels per pixel row inside each glyph's cell.
        var blank = await browser.Context.NewPageAsync();
        var cells = geometry.Boxes.Select(b => new[] { b.X - geometry.Left, b.Width }).ToArray();
        var profilesJson = await blank.EvaluateAsync<string>("""
            async ([base64, cellsJson]) => {
              const cells = JSON.parse(cellsJson);
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
              const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
              const context = canvas.getContext('2d');
              context.drawImage(bitmap, 0, 0);
              const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
              return JSON.stringify(cells.map(([x, width]) => {
                const perRow = [];
                for (let y = 0; y < bitmap.height; y++) {
                  let lit = 0;
                  for (let px = Math.ceil(x); px < Math.floor(x + width) && px < bitmap.width; px++) {
                    const i = (y * bitmap.width + px) * 4;
                    if (0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2] > 110) lit++;
                  }
                  perRow.push(lit);
                }
                return perRow;
              }));
            }
            """, new object[] { Convert.ToBase64String(png), System.Text.Json.JsonSerializer.Serialize(cells) });

        var profiles = System.Text.Json.JsonSerializer.Deserialize<int[][]>(profilesJson)!;
        Glyph At(char c) => new(c, profiles[Sample.IndexOf(c, StringComparison.Ordinal)]);
        var a = At('a');
        var underscore = At('_');
        var report = string.Join("; ", Sample.Where(c => c != ' ').Distinct().Select(c => At(c).ToString()));
        Artifacts.Write("terminal-glyphs.txt", $"row {geometry.Height} px high; lit pixels and lit pixel rows per cell: {report}\n");

        // The underscore: a horizontal stroke, at least half a cell wide, level with or below the bottom of 'a'.
        Assert.True(underscore.Lit >= cells[1][1] / 2, $"'_' is not painted between 'a' and 'b' (see {crop}): {report}");
        Assert.True(underscore.Bottom >= a.Bottom, $"'_' sits above the baseline: {report}");
        // Descenders reach below the baseline, and are not cut off at it.
        foreach (var low in new[] { 'g', 'y' })
            Assert.True(At(low).Bottom >= a.Bottom + 2, $"'{low}' has no visible descender: {report}");
        Assert.True(At('|').Lit > 0 && At('|').Bottom >= a.Bottom, $"'|' is clipped: {report}");
        // High glyphs: painted, and reaching above the top of 'a'.
        foreach (var high in new[] { '^', '~' })
            Assert.True(At(high).Lit > 0, $"'{high}' is not painted: {report}");
        Assert.True(At('^').Top < a.Top, $"'^' does not reach above 'a': {report}");
    }

    /// <summary>Pixels brighter than the dark background in a PNG, decoded in a blank page (no CSP there).</summary>
    private static async Task<int> CountLitPixelsAsync(IBrowserContext context, byte[] png)
    {
        var blank = await context.NewPageAsync();
        try
        {
            return await blank.EvaluateAsync<int>("""
                async (base64) => {
                  const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
                  const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
                  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
                  const context = canvas.getContext('2d');
                  context.drawImage(bitmap, 0, 0);
                  const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
                  let lit = 0;
                  for (let i = 0; i < pixels.length; i += 4)
                    if (0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2] > 110) lit++;
                  return lit;
                }
                """, Convert.ToBase64String(png));
        }
        finally
        {
            await blank.CloseAsync();
        }
    }

    private static readonly System.Text.Json.JsonSerializerOptions WebJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    private sealed record RowLayout(float Top, float Height, float Left, float Width, CharBox[] Boxes);

    private sealed record CharBox(float X, float Width);

    /// <summary>Lit pixels per pixel row of one glyph's cell.</summary>
    private sealed record Glyph(char Char, int[] PerRow)
    {
        public int Lit => PerRow.Sum();

        public int Top => Array.FindIndex(PerRow, n => n > 0);

        public int Bottom => Array.FindLastIndex(PerRow, n => n > 0);

        public override string ToString() => $"'{Char}' lit {Lit} rows {Top}..{Bottom}";
    }

    private static async Task<(int Rows, int Columns)> SttySizeAsync(IPage page)
    {
        var marker = "size-" + Guid.NewGuid().ToString("N")[..6];
        await page.Keyboard.TypeAsync($"echo {marker} $(stty size)");
        await page.Keyboard.PressAsync("Enter");
        var handle = await page.WaitForFunctionAsync(
            $"() => [...document.querySelectorAll('.xterm-rows > div')].map(r => r.textContent.trim()).find(t => /^{marker} \\d+ \\d+$/.test(t))");
        var text = await handle.JsonValueAsync<string>();
        var match = SizeLine().Match(text);
        return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@" (\d+) (\d+)$")]
    private static partial Regex SizeLine();
}
