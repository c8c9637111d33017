using Dockhand.Containers;
using Dockhand.Terminal;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dockhand.Tests.Bot;

/// <summary>A terminal link's one-time token never reaches the log, even with ASP.NET Core's request logs turned on.</summary>
public sealed class RequestLogTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TerminalRequest_AspNetCoreLoggingAtInformation_TokenNotLogged()
    {
        await using var host = await BotHost.StartAsync(withGateway: false, extra: new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Debug",
        }, cancellationToken: Ct);
        var link = await host.App.Services.GetRequiredService<TerminalLinks>().IssueAsync(new OwnerId(BotHost.NewUser()), "abc123", Ct);
        var token = link.Url.Query["?token=".Length..];

        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false };
        using var browser = new HttpClient(handler) { BaseAddress = host.BaseAddress };
        using var response = await browser.GetAsync(new Uri(link.Url.PathAndQuery, UriKind.Relative), Ct);
        using var again = await browser.GetAsync(new Uri(link.Url.PathAndQuery, UriKind.Relative), Ct);

        Assert.NotEmpty(host.LogLines);
        Assert.DoesNotContain(host.LogLines, e => e.Contains(token, StringComparison.Ordinal));
        // The configuration did take effect for the rest of ASP.NET Core; only the URL-printing categories are capped.
        var loggers = host.App.Services.GetRequiredService<ILoggerFactory>();
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Authentication").IsEnabled(LogLevel.Information));
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
    }
}
