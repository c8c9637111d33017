using System.Net;
using System.Text.Json;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Dockhand.Terminal.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Terminal.Tests;

[Collection(DockerCollection.Name)]
public sealed class HttpEndpointTests(DockerFixture docker)
{
    private static readonly OwnerId Alice = new(80351110224678912);

    [Fact]
    public async Task Health_EngineAndDatabaseUp_Returns200WithBoth()
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync("/health", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("healthy", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("healthy", json.RootElement.GetProperty("checks").GetProperty("engine").GetProperty("status").GetString());
        Assert.Equal("healthy", json.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_EngineDown_Returns503NamingTheEngine()
    {
        using var dead = DockerFixture.CreateClient("unix:///tmp/dockhand-no-such-engine.sock");
        await using var host = await TerminalHost.StartAsync(dead, cancellationToken: TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync("/health", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("unhealthy", json.RootElement.GetProperty("checks").GetProperty("engine").GetProperty("status").GetString());
        Assert.Equal("healthy", json.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_DatabaseUnreadable_Returns503NamingTheDatabase()
    {
        // A path under a regular file can never be opened.
        var blocker = Path.GetTempFileName();
        try
        {
            await using var host = await TerminalHost.StartAsync(docker.Client, databasePath: Path.Combine(blocker, "containers.db"), cancellationToken: TestContext.Current.CancellationToken);
            using var http = host.CreateClient();

            using var response = await http.GetAsync("/health", TestContext.Current.CancellationToken);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            Assert.Equal("unhealthy", json.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        }
        finally
        {
            File.Delete(blocker);
        }
    }

    [Fact]
    public async Task Open_ValidToken_SetsScopedStrictCookieAndRedirectsToCleanUrl()
    {
        var container = await docker.StartContainerAsync(DockerFixture.BusyboxImage, cancellationToken: TestContext.Current.CancellationToken);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, container, TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync(link.Url, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal($"/terminal/{container}", response.Headers.Location!.OriginalString);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("dockhand_terminal=", cookie, StringComparison.Ordinal);
        Assert.Contains($"path=/terminal/{container}", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie.Replace("samesite", "", StringComparison.OrdinalIgnoreCase), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(link.Url.Query["?token=".Length..], cookie, StringComparison.Ordinal);
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Fact]
    public async Task Open_ForwardedHttpsFromLoopbackProxy_MarksCookieSecure()
    {
        var container = await docker.StartContainerAsync(DockerFixture.BusyboxImage, cancellationToken: TestContext.Current.CancellationToken);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, container, TestContext.Current.CancellationToken);
        using var http = host.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, link.Url);
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Contains("; secure", Assert.Single(response.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Open_UsedToken_Returns410UsedPage()
    {
        var container = await docker.StartContainerAsync(DockerFixture.BusyboxImage, cancellationToken: TestContext.Current.CancellationToken);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, container, TestContext.Current.CancellationToken);
        using var http = host.CreateClient();
        (await http.GetAsync(link.Url, TestContext.Current.CancellationToken)).Dispose();

        using var again = await http.GetAsync(link.Url, TestContext.Current.CancellationToken);

        await AssertProblemAsync(again, HttpStatusCode.Gone, "already been used");
    }

    [Fact]
    public async Task Open_ExpiredToken_Returns410ExpiredPage()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TerminalHost.StartAsync(docker.Client, time, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromHours(1));
        using var http = host.CreateClient();

        using var response = await http.GetAsync(link.Url, TestContext.Current.CancellationToken);

        await AssertProblemAsync(response, HttpStatusCode.Gone, "expired");
    }

    [Fact]
    public async Task Open_TokenForAnotherContainer_Returns403()
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, "abc123", TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync($"/terminal/def456{link.Url.Query}", TestContext.Current.CancellationToken);

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "different container");
    }

    [Fact]
    public async Task Open_ContainerLabelledForAnotherOwner_Returns403AndKeepsToken()
    {
        var container = await docker.StartContainerAsync(DockerFixture.BusyboxImage, ownerLabel: "175928847299117063", cancellationToken: TestContext.Current.CancellationToken);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, container, TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync(link.Url, TestContext.Current.CancellationToken);

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "belongs to someone else");
    }

    [Fact]
    public async Task Open_ContainerLabelledForTheOwner_Redirects()
    {
        var container = await docker.StartContainerAsync(DockerFixture.BusyboxImage, ownerLabel: Alice.ToString(), cancellationToken: TestContext.Current.CancellationToken);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, container, TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync(link.Url, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
    }

    [Theory]
    [InlineData("?token=nonsense")]
    [InlineData("?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("?token=")]
    [InlineData("?token=a&token=b")]
    public async Task Open_UnknownToken_Returns401(string query)
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync($"/terminal/abc123{query}", TestContext.Current.CancellationToken);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "not valid");
    }

    [Fact]
    public async Task Open_ContainerGone_Returns404AndPageSaysSo()
    {
        var container = await docker.StartContainerAsync(DockerFixture.BusyboxImage, cancellationToken: TestContext.Current.CancellationToken);
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var link = await host.Links.IssueAsync(Alice, container, TestContext.Current.CancellationToken);
        await docker.RemoveContainerAsync(container, TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        using var response = await http.GetAsync(link.Url, TestContext.Current.CancellationToken);

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "no longer exists");
    }

    [Fact]
    public async Task Page_AnyResponse_CarriesSecurityHeaders()
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        foreach (var path in new[] { "/terminal/abc123", "/terminal/abc123?token=x", "/no/such/route", "/_terminal/missing.js", "/health" })
        {
            using var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
            var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
            Assert.StartsWith("default-src 'self'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
            Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
            Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        }
    }

    [Fact]
    public async Task Assets_XtermFromNpm_AreServedFromTheAssembly()
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        using var http = host.CreateClient();

        foreach (var path in new[] { "/_terminal/lib/xterm.js", "/_terminal/lib/addon-fit.js", "/_terminal/lib/xterm.css", "/_terminal/terminal.js", "/_terminal/page.css" })
        {
            using var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True((await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken)).Length > 100, path);
        }
        using var page = await http.GetAsync("/terminal/abc123", TestContext.Current.CancellationToken);
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<style", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Socket_ForeignOrigin_IsRefusedWith403()
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        var page = new Uri(host.BaseAddress, "/terminal/abc123");

        var error = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() =>
            TerminalClient.ConnectAsync(host, page, new CookieContainer(), TestContext.Current.CancellationToken, origin: "https://evil.example"));

        Assert.Contains("403", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Socket_NoSessionCookie_ClosesWithReason()
    {
        await using var host = await TerminalHost.StartAsync(docker.Client, cancellationToken: TestContext.Current.CancellationToken);
        await using var client = await TerminalClient.ConnectAsync(host, new Uri(host.BaseAddress, "/terminal/abc123"), new CookieContainer(), TestContext.Current.CancellationToken);

        Assert.True(await client.WaitEndedAsync(TestContext.Current.CancellationToken));
        Assert.Contains("/terminal", client.EndedReason, StringComparison.Ordinal);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string says)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains(says, body, StringComparison.Ordinal);
        Assert.Contains("run /terminal again", body, StringComparison.OrdinalIgnoreCase);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }
}

[Collection(DockerCollection.Name)]
public sealed class StartupValidationTests(DockerFixture docker)
{
    [Fact]
    public async Task Start_InvalidTokenTtl_FailsWithOneLineNamingTheKey()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            TerminalHost.StartAsync(docker.Client, settings: new Dictionary<string, string?> { ["TERMINAL_TOKEN_TTL"] = "forever" },
                cancellationToken: TestContext.Current.CancellationToken));

        var failure = Assert.Single(error.Failures);
        Assert.StartsWith("TERMINAL_TOKEN_TTL:", failure, StringComparison.Ordinal);
        Assert.Contains("60m", failure, StringComparison.Ordinal);
    }
}
