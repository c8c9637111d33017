using Dockhand.Discord.Gateway;
using Dockhand.Discord.Testing.Gateway;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Discord.Tests.Gateway;

public sealed class GatewayHostingTests
{
    [Fact]
    public async Task AddDockhandDiscordGateway_HostedServiceStarted_IdentifiesAndClosesWith1000OnStop()
    {
        var ct = TestContext.Current.CancellationToken;
        // One frozen clock for both sides: nothing here may depend on how fast a starved machine runs, and no
        // heartbeat, identify window or close grace falls due while the test waits on the sockets.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions { Token = "hosted-token", TimeProvider = clock });
        await server.StartAsync(ct);
        var handler = new RecordingDispatchHandler();
        var services = new ServiceCollection();
        // The client's heartbeats, its Hello timeout and its close path (the wait for the send lock, the grace for the
        // server's close frame) run on this clock: before, a starved run could see a heartbeat in flight hold the close
        // past its 2 s, or the server's watchdog close the connection first.
        services.AddSingleton<TimeProvider>(clock);
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

        // Bounded in real time: if the close path waited on the frozen clock for a server that never answers, the
        // stop would hang instead of failing.
        await hosted.StopAsync(ct).WaitAsync(TimerRecordingTimeProvider.WaitLimit, ct);

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
