using Dockhand.Discord.Rest;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Tests.Support;

/// <summary>A loopback REST server and a client pointed at it.</summary>
internal sealed class RestFixture : IAsyncDisposable
{
    private RestFixture(LoopbackDiscordRestServer server, DiscordRestClient client, FakeLogger<DiscordRestClient> logger, HttpClient http)
    {
        Server = server;
        Client = client;
        Logger = logger;
        Http = http;
    }

    public LoopbackDiscordRestServer Server { get; }
    public DiscordRestClient Client { get; }
    public FakeLogger<DiscordRestClient> Logger { get; }
    private HttpClient Http { get; }

    /// <param name="withoutToken">The client has no bot token (an HTTP-interactions-only deployment).</param>
    public static async Task<RestFixture> StartAsync(string? clientToken = null, TimeProvider? time = null, bool withoutToken = false,
        Action<DiscordOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var server = await LoopbackDiscordRestServer.StartAsync(time: time, cancellationToken: cancellationToken);
        var settings = new DiscordOptions { Token = withoutToken ? null : clientToken ?? server.Token, ApiBaseUrl = server.ApiBaseUrl, ApplicationId = server.ApplicationId };
        configure?.Invoke(settings);
        var options = Options.Create(settings);
        var logger = new FakeLogger<DiscordRestClient>();
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) }; // as in production: a hang fails the test
        return new RestFixture(server, new DiscordRestClient(http, options, time ?? TimeProvider.System, logger), logger, http);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}
