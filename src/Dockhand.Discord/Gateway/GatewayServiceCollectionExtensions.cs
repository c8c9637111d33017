using Dockhand.Discord.Gateway;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="DiscordGatewayClient"/> (singleton) and a hosted service that runs it.
    /// The host must also register an <see cref="IGatewayDispatchHandler"/>, and either an <see cref="IGatewayBotInfoSource"/>
    /// (the REST client's GET /gateway/bot) or set <c>DiscordOptions.GatewayUrl</c>. <c>DiscordOptions</c> is bound elsewhere.
    /// </summary>
    public static IServiceCollection AddDockhandDiscordGateway(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<Dockhand.Discord.DiscordOptions>();
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DiscordGatewayClient>();
        services.AddHostedService<DiscordGatewayService>();
        return services;
    }
}
