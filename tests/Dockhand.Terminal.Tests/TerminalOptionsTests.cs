using Microsoft.Extensions.Configuration;

namespace Dockhand.Terminal.Tests;

public sealed class TerminalOptionsTests
{
    [Theory]
    [InlineData("3600", 3600)]
    [InlineData("01:00:00", 3600)]
    [InlineData("60m", 3600)]
    [InlineData("1h", 3600)]
    [InlineData("1.5h", 5400)]
    [InlineData("90s", 90)]
    [InlineData("2d", 172800)]
    [InlineData(" 45M ", 2700)]
    public void TryParseDuration_AcceptedForms_GiveSeconds(string text, int seconds)
    {
        Assert.True(TerminalOptions.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-5")]
    [InlineData("10x")]
    [InlineData("1e9999")]
    [InlineData("m")]
    public void TryParseDuration_Nonsense_IsRefused(string text)
        => Assert.False(TerminalOptions.TryParseDuration(text, out _));

    [Fact]
    public void Bind_NoSettings_GivesDefaults()
    {
        var options = TerminalOptions.Bind(new ConfigurationBuilder().Build(), out var errors);

        Assert.Empty(errors);
        Assert.Equal(new Uri("http://localhost:5000"), options.ServiceUrl);
        Assert.Equal(TimeSpan.FromHours(1), options.TokenTimeToLive);
        Assert.Equal(TimeSpan.FromSeconds(10), options.ReattachGrace);
        Assert.Equal(3, options.MaxSessionsPerOwner);
        Assert.Equal(5, options.LinksPerMinute);
        Assert.False(options.SecureCookies);
    }

    [Fact]
    public void Bind_BadValues_GiveOneLineEachNamingTheKey()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TERMINAL_SERVICE_URL"] = "ftp://nope",
            ["TERMINAL_TOKEN_TTL"] = "soon",
            ["TERMINAL_REATTACH_GRACE"] = "1h",
            ["TRUSTED_PROXIES"] = "10.0.0.0/24, not-an-ip",
        }).Build();

        TerminalOptions.Bind(configuration, out var errors);

        Assert.Collection(errors,
            e => Assert.StartsWith("TERMINAL_SERVICE_URL:", e, StringComparison.Ordinal),
            e => Assert.StartsWith("TERMINAL_TOKEN_TTL:", e, StringComparison.Ordinal),
            e => Assert.StartsWith("TERMINAL_REATTACH_GRACE:", e, StringComparison.Ordinal),
            e => Assert.StartsWith("TRUSTED_PROXIES:", e, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));
    }

    [Fact]
    public void Bind_HttpsUrlAndProxies_TurnOnSecureCookiesAndTrustNetworks()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TERMINAL_SERVICE_URL"] = "https://dockhand.example.org",
            ["TERMINAL_TOKEN_TTL"] = "30m",
            ["TRUSTED_PROXIES"] = "10.0.0.5, 172.18.0.0/16",
        }).Build();

        var options = TerminalOptions.Bind(configuration, out var errors);

        Assert.Empty(errors);
        Assert.True(options.SecureCookies);
        Assert.Equal(TimeSpan.FromMinutes(30), options.TokenTimeToLive);
        Assert.Equal(2, options.TrustedProxies.Count);
        Assert.Contains(options.TrustedProxies, n => n.Contains(System.Net.IPAddress.Parse("10.0.0.5")));
        Assert.Contains(options.TrustedProxies, n => n.Contains(System.Net.IPAddress.Parse("172.18.200.1")));
        Assert.DoesNotContain(options.TrustedProxies, n => n.Contains(System.Net.IPAddress.Parse("10.0.0.6")));
    }

    [Theory]
    [InlineData("203.0.113.9", "http", "203.0.113.9")] // not a trusted proxy: its X-Forwarded-* are ignored
    [InlineData("10.0.0.5", "https", "198.51.100.1")] // the trusted proxy: applied
    [InlineData("172.18.3.4", "https", "198.51.100.1")] // inside the trusted network: applied
    public async Task Pipeline_ForwardedHeaders_AppliedOnlyFromTrustedProxies(string peer, string scheme, string remote)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TRUSTED_PROXIES"] = "10.0.0.5, 172.18.0.0/16",
        }).Build();
        var options = TerminalOptions.Bind(configuration, out var errors);
        Assert.Empty(errors);
        // The terminal's forwarded-headers step, as the host's pipeline runs it, fed a request from a non-loopback peer,
        // which a loopback-bound test server cannot receive.
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        Microsoft.Extensions.DependencyInjection.LoggingServiceCollectionExtensions.AddLogging(services);
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton(services, Microsoft.Extensions.Options.Options.Create(options));
        await using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var app = new Microsoft.AspNetCore.Builder.ApplicationBuilder(provider);
        (string Scheme, string? Remote)? seen = null;
        app.UseDockhandForwardedHeaders();
        Microsoft.AspNetCore.Builder.RunExtensions.Run(app, context =>
        {
            seen = (context.Request.Scheme, context.Connection.RemoteIpAddress?.ToString());
            return Task.CompletedTask;
        });
        var pipeline = app.Build();
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = provider };
        context.Request.Scheme = "http";
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse(peer);
        context.Request.Headers["X-Forwarded-Proto"] = "https";
        context.Request.Headers["X-Forwarded-For"] = "198.51.100.1";

        await pipeline(context);

        Assert.Equal((scheme, remote), seen);
    }

    [Theory]
    [InlineData("TERMINAL_MAX_SESSIONS", "0")]
    [InlineData("TERMINAL_MAX_SESSIONS", "many")]
    [InlineData("TERMINAL_MAX_SESSIONS", "101")]
    [InlineData("TERMINAL_LINKS_PER_MINUTE", "-1")]
    [InlineData("TERMINAL_LINKS_PER_MINUTE", "2.5")]
    public void Bind_BadLimit_GivesOneLineNamingTheKeyAndTheRange(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        TerminalOptions.Bind(configuration, out var errors);

        var error = Assert.Single(errors);
        Assert.StartsWith(key + ":", error, StringComparison.Ordinal);
        Assert.Contains("whole number between 1 and", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_Limits_AreRead()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TERMINAL_MAX_SESSIONS"] = "1",
            ["TERMINAL_LINKS_PER_MINUTE"] = " 12 ",
        }).Build();

        var options = TerminalOptions.Bind(configuration, out var errors);

        Assert.Empty(errors);
        Assert.Equal(1, options.MaxSessionsPerOwner);
        Assert.Equal(12, options.LinksPerMinute);
    }
}
