using Dockhand.Discord.Gateway;
using Dockhand.Discord.Testing.Gateway;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayHostingTests
{
    [Fact]
    public async Task AddDockhandDiscordGateway_HostedServiceStarted_IdentifiesAndClosesWith1000OnStop()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions { Token = "hosted-token" });
        await server.StartAsync(ct);
        var handler = new RecordingDispatchHandler();
        var services = new ServiceCollection();
        services.Configure<DiscordOptions>(o =>
        {
            o.Token = "hosted-token";
            o.GatewayUrl = server.Url;
        });
        services.AddSingleton<IGatewayDispatchHandler>(handler);
        services.AddDockhandDiscordGateway();
        await using var provider = services.BuildServiceProvider();

        var hosted = Assert.Single(provider.GetServices<IHostedService>());
        await hosted.StartAsync(ct);
        await server.WaitForSessionAsync(cancellationToken: ct);
        await server.DispatchInteractionAsync("""{"id":"42","type":2}""", ct);
        await server.WaitUntilAsync(_ => handler.Names.Contains("INTERACTION_CREATE"), cancellationToken: ct);
        Assert.Equal(server.CurrentSessionId, provider.GetRequiredService<DiscordGatewayClient>().SessionId);

        await hosted.StopAsync(ct);

        await server.WaitUntilAsync(s => s.Connections[0].ClosedBy is not null, cancellationToken: ct);
        Assert.Equal(1000, server.Connections[0].CloseCode);
        Assert.Equal("client", server.Connections[0].ClosedBy);
    }

    [Fact]
    public async Task AddDockhandDiscordGateway_NoToken_HostedServiceDoesNothing()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IGatewayDispatchHandler>(new RecordingDispatchHandler());
        services.AddDockhandDiscordGateway();
        await using var provider = services.BuildServiceProvider();
        var hosted = (BackgroundService)Assert.Single(provider.GetServices<IHostedService>());

        await hosted.StartAsync(TestContext.Current.CancellationToken);
        await hosted.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.True(hosted.ExecuteTask.IsCompletedSuccessfully);
    }
}
