using System.Net;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Tests.Support;

/// <summary>A delegate-backed handler.</summary>
internal sealed class DelegateHandler(Func<Interaction, IInteractionResponder, CancellationToken, Task> handle) : IInteractionHandler
{
    public Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken) =>
        handle(interaction, responder, cancellationToken);
}

/// <summary>
/// A real ASP.NET Core host on 127.0.0.1:0 with AddDockhandDiscord + MapDiscordInteractions, a loopback REST server
/// and a signer whose public key is DISCORD_PUBLIC_KEY.
/// </summary>
internal sealed class InteractionsHost : IAsyncDisposable
{
    private InteractionsHost(WebApplication app, LoopbackDiscordRestServer rest, InteractionSigner signer, HttpClient http)
    {
        App = app;
        Rest = rest;
        Signer = signer;
        Http = http;
    }

    public WebApplication App { get; }
    public LoopbackDiscordRestServer Rest { get; }
    public InteractionSigner Signer { get; }
    public HttpClient Http { get; }
    public Uri Endpoint => new(App.Urls.First().TrimEnd('/') + "/interactions");

    public static async Task<InteractionsHost> StartAsync(Func<Interaction, IInteractionResponder, CancellationToken, Task> handle,
        TimeProvider? time = null, Action<IServiceCollection>? configure = null, CancellationToken cancellationToken = default)
    {
        // One clock for the host and the loopback Discord, so Discord's 3 s deadline runs on the test's time.
        var rest = await LoopbackDiscordRestServer.StartAsync(time: time, cancellationToken: cancellationToken);
        var signer = new InteractionSigner();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DISCORD_TOKEN"] = rest.Token,
            ["DISCORD_PUBLIC_KEY"] = signer.PublicKeyHex,
            ["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri,
        });
        if (time is not null)
            builder.Services.AddSingleton(time);
        builder.Services.AddDockhandDiscord(builder.Configuration);
        builder.Services.AddSingleton<IInteractionHandler>(new DelegateHandler(handle));
        configure?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapDiscordInteractions();
        await app.StartAsync(cancellationToken);
        return new InteractionsHost(app, rest, signer, new HttpClient { Timeout = TimeSpan.FromSeconds(30) });
    }

    /// <summary>Sends a correctly signed interaction, as Discord would.</summary>
    public Task<HttpResponseMessage> SendSignedAsync(string body, DateTimeOffset? now = null, CancellationToken cancellationToken = default) =>
        Http.SendAsync(Signer.CreateRequest(Endpoint, body, now ?? DateTimeOffset.UtcNow), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Signer.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Rest.DisposeAsync();
    }
}
