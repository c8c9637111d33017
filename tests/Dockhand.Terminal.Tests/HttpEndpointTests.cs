using System.Net;
using System.Text.Json;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Dockhand.Terminal.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Terminal.Tests;

[Collection(DockerCollection.Name)]
public sealed class HttpEndpointTests(EngineFixture docker)
{
    private static readonly OwnerId Alice = new(80351110224678912);

    [Fact]
    public async Task Open_GetWithToken_ServesPageAndConsumesNothing()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, ownerLabel: Alice.ToString(), cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();

        // A link scanner: fetches the link (twice, as unfurlers do), runs no script.
        for (var i = 0; i < 2; i++)
        {
            using var response = await http.GetAsync(link.Url, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("Set-Cookie"));
            var html = await response.Content.ReadAsStringAsync(Ct);
            Assert.Contains("/_terminal/terminal.js", html, StringComparison.Ordinal);
            Assert.DoesNotContain(Alice.ToString(), html, StringComparison.Ordinal); // whose container it is comes only after redeeming
        }

        Assert.IsType<TokenCheck.Valid>(await TokenStateAsync(host, link, container));
        using var redeemed = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);
        Assert.Equal(HttpStatusCode.OK, redeemed.StatusCode);
    }

    [Fact]
    public async Task Open_HeadWithToken_ConsumesNothing()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();

        using var head = new HttpRequestMessage(HttpMethod.Head, link.Url);
        using var response = await http.SendAsync(head, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.IsType<TokenCheck.Valid>(await TokenStateAsync(host, link, container));
    }

    [Fact]
    public async Task Redeem_ValidToken_SetsScopedStrictCookieAndSaysWhoseContainer()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(container, json.RootElement.GetProperty("containerId").GetString());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("container").GetString()));
        Assert.Equal(Alice.ToString(), json.RootElement.GetProperty("owner").GetString());
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("dockhand_terminal=", cookie, StringComparison.Ordinal);
        Assert.Contains($"path=/terminal/{container}", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie.Replace("samesite", "", StringComparison.OrdinalIgnoreCase), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(link.Url.Query["?token=".Length..], cookie, StringComparison.Ordinal);
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.IsType<TokenCheck.Used>(await TokenStateAsync(host, link, container));
    }

    [Fact]
    public async Task Redeem_ContainerNamedByDockhand_AnswersTheDockhandName()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, ownerLabel: Alice.ToString(), name: "alice-dev", cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("alice-dev", json.RootElement.GetProperty("container").GetString());
    }

    [Fact]
    public async Task Redeem_ForwardedHttpsFromLoopbackProxy_MarksCookieSecure()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();
        http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        http.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");

        // Behind the proxy the page's origin is https://<same host>.
        var origin = "https://" + host.BaseAddress.Authority;
        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct, origin: origin);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("; secure", Assert.Single(response.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Redeem_Twice_SecondIs410Used()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();
        using var first = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        using var again = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        await AssertRefusalAsync(again, HttpStatusCode.Gone, "already been used");
    }

    [Theory]
    [InlineData("https://evil.example")]
    [InlineData("null")]
    [InlineData("")]
    public async Task Redeem_ForeignOrMissingOrigin_Is403AndKeepsToken(string origin)
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct, origin: origin);

        await AssertRefusalAsync(response, HttpStatusCode.Forbidden, "did not come from the terminal page");
        await AssertRedeemsAsync(http, host, link);
    }

    [Fact]
    public async Task Redeem_FormEncodedBody_Is400AndKeepsToken()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.BaseAddress, link.Url.AbsolutePath + "/session"))
        {
            Content = new FormUrlEncodedContent([new("token", link.Url.Query["?token=".Length..])]),
        };
        request.Headers.Add("Origin", host.BaseAddress.GetLeftPart(UriPartial.Authority));

        using var response = await http.SendAsync(request, Ct);

        await AssertRefusalAsync(response, HttpStatusCode.BadRequest, "application/json");
        await AssertRedeemsAsync(http, host, link);
    }

    [Fact]
    public async Task Redeem_ExpiredToken_Is410Expired()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TerminalHost.StartAsync(time, cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, "abc123", Ct);
        time.Advance(TimeSpan.FromHours(1));
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        await AssertRefusalAsync(response, HttpStatusCode.Gone, "expired");
    }

    [Fact]
    public async Task Redeem_TokenForAnotherContainer_Is403()
    {
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, "abc123", Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, new Uri(host.BaseAddress, $"/terminal/def456{link.Url.Query}"), Ct);

        await AssertRefusalAsync(response, HttpStatusCode.Forbidden, "different container");
    }

    [Fact]
    public async Task Redeem_ContainerLabelledForAnotherOwner_Is403AndKeepsToken()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, ownerLabel: "175928847299117063", cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        await AssertRefusalAsync(response, HttpStatusCode.Forbidden, "belongs to someone else");
        Assert.IsType<TokenCheck.Valid>(await TokenStateAsync(host, link, container));
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("")]
    public async Task Redeem_UnknownToken_Is401(string token)
    {
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, new Uri(host.BaseAddress, "/terminal/abc123"), Ct, tokenOverride: token);

        await AssertRefusalAsync(response, HttpStatusCode.Unauthorized, "not valid");
    }

    [Fact]
    public async Task Redeem_ContainerGone_Is404()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        await docker.RemoveContainerAsync(container, Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        await AssertRefusalAsync(response, HttpStatusCode.NotFound, "no longer exists");
    }

    [Fact]
    public async Task Redeem_ContainerStopped_Is409AndKeepsToken()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        await docker.Client.Containers.StopContainerAsync(container, new Docker.DotNet.Models.ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        await AssertRefusalAsync(response, HttpStatusCode.Conflict, "not running");
        await docker.Client.Containers.StartContainerAsync(container, new Docker.DotNet.Models.ContainerStartParameters(), Ct);
        await AssertRedeemsAsync(http, host, link);
    }

    [Fact]
    public async Task Redeem_EngineDown_Is503AndKeepsToken()
    {
        await using var host = await TerminalHost.StartAsync(engineEndpoint: new Uri("unix:///tmp/dockhand-no-such-engine.sock"), cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, "abc123", Ct);
        using var http = host.CreateClient();

        using var response = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);

        await AssertRefusalAsync(response, HttpStatusCode.ServiceUnavailable, "not used up", says2: "reload this page");
        Assert.IsType<TokenCheck.Valid>(await TokenStateAsync(host, link, "abc123"));
    }

    [Fact]
    public async Task Page_AnyResponse_CarriesSecurityHeaders()
    {
        await using var host = await TerminalHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
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
        await using var host = await TerminalHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
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
        await using var host = await TerminalHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var page = new Uri(host.BaseAddress, "/terminal/abc123");

        var error = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() =>
            TerminalClient.ConnectAsync(host, page, new CookieContainer(), TestContext.Current.CancellationToken, origin: "https://evil.example"));

        Assert.Contains("403", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Socket_NoSessionCookie_ClosesWithReason()
    {
        await using var host = await TerminalHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var client = await TerminalClient.ConnectAsync(host, new Uri(host.BaseAddress, "/terminal/abc123"), new CookieContainer(), TestContext.Current.CancellationToken);

        Assert.True(await client.WaitEndedAsync(TestContext.Current.CancellationToken));
        Assert.Contains("/terminal", client.EndedReason, StringComparison.Ordinal);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Kept means usable: the same link, redeemed properly now, opens the terminal (200).</summary>
    private static async Task AssertRedeemsAsync(HttpClient http, TerminalHost host, TerminalLink link)
    {
        using var retry = await TerminalClient.RedeemAsync(http, host, link.Url, Ct);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
    }

    private static Task<TokenCheck> TokenStateAsync(TerminalHost host, TerminalLink link, string container)
        => host.Links.CheckAsync(System.Web.HttpUtility.ParseQueryString(link.Url.Query)["token"], container, Ct);

    private static async Task AssertRefusalAsync(HttpResponseMessage response, HttpStatusCode status, string says, string says2 = "run /terminal again")
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("title").GetString()));
        var detail = json.RootElement.GetProperty("detail").GetString()!;
        Assert.Contains(says, detail, StringComparison.Ordinal);
        Assert.Contains(says2, detail, StringComparison.OrdinalIgnoreCase);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }
}

[Collection(DockerCollection.Name)]
public sealed class StartupValidationTests
{
    [Fact]
    public async Task Start_InvalidTokenTtl_FailsWithOneLineNamingTheKey()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            TerminalHost.StartAsync(settings: new Dictionary<string, string?> { ["TERMINAL_TOKEN_TTL"] = "forever" },
                cancellationToken: TestContext.Current.CancellationToken));

        var failure = Assert.Single(error.Failures);
        Assert.StartsWith("TERMINAL_TOKEN_TTL:", failure, StringComparison.Ordinal);
        Assert.Contains("60m", failure, StringComparison.Ordinal);
    }
}
