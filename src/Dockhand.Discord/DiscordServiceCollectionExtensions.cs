using Dockhand.Discord.Commands;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord;

/// <summary>DI and endpoint wiring for the REST client, interactions and command registration.</summary>
public static class DiscordServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="DiscordOptions"/> from the flat DISCORD_* keys (validated at start-up: one line per bad key) and
    /// registers <see cref="DiscordRestClient"/> (also as <see cref="IGatewayBotInfoSource"/>),
    /// <see cref="DiscordApplicationIdSource"/>, <see cref="CommandRegistrar"/>, the interaction dispatcher and the
    /// gateway bridge (<see cref="IGatewayDispatchHandler"/>). Register your <see cref="IInteractionHandler"/> yourself.
    /// </summary>
    public static IServiceCollection AddDockhandDiscord(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<DiscordOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DiscordOptions>, DiscordOptionsValidator>());

        services.AddMetrics();
        services.TryAddSingleton<DiscordMetrics>();
        services.TryAddSingleton(sp => new DiscordRestClient(
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = TimeSpan.FromSeconds(30) },
            sp.GetRequiredService<IOptions<DiscordOptions>>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<DiscordRestClient>>(), sp.GetService<DiscordMetrics>()));
        services.TryAddSingleton<IGatewayBotInfoSource>(sp => sp.GetRequiredService<DiscordRestClient>());
        services.TryAddSingleton<DiscordApplicationIdSource>();
        services.TryAddSingleton<InteractionDispatcher>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, InteractionDrain>());
        services.TryAddSingleton<InteractionReplayGuard>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayDispatchHandler, GatewayInteractionBridge>());
        services.TryAddSingleton(sp =>
        {
            var key = InteractionSignatureVerifier.TryParsePublicKey(sp.GetRequiredService<IOptions<DiscordOptions>>().Value.PublicKey)
                ?? throw new InvalidOperationException($"{DiscordConfiguration.PublicKeyKey} is not set or invalid; POST /interactions needs it.");
            return new InteractionSignatureVerifier(key, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<InteractionEndpoint>();

        services.TryAddSingleton<CommandRegistrar>();
        return services;
    }

    /// <summary>
    /// Uploads <paramref name="commands"/> at start-up (in the background, retried; a failure is logged and does not
    /// stop the host), only when Discord does not hold them already in the scope (global or DISCORD_GUILD_ID). With an
    /// <see cref="IGatewayLeadership"/> registered (several processes on one bot) only the process whose turn it is
    /// checks and uploads, so two processes starting together make one upload, not two. Invalid definitions fail start-up.
    /// </summary>
    public static IServiceCollection AddDockhandDiscordCommands(this IServiceCollection services, IReadOnlyList<SlashCommand> commands)
    {
        CommandValidator.EnsureValid(commands);
        services.AddHostedService(sp => new CommandRegistrationService(commands, sp.GetRequiredService<CommandRegistrar>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<CommandRegistrationService>>(), sp.GetService<IGatewayLeadership>()));
        return services;
    }

    /// <summary>
    /// Maps POST <paramref name="pattern"/> (default /interactions) when DISCORD_PUBLIC_KEY is set; maps nothing otherwise.
    /// </summary>
    public static IEndpointRouteBuilder MapDiscordInteractions(this IEndpointRouteBuilder endpoints, string pattern = "/interactions")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<DiscordOptions>>().Value;
        if (string.IsNullOrEmpty(options.PublicKey))
            return endpoints;
        endpoints.MapPost(pattern, (HttpContext context, InteractionEndpoint endpoint) => endpoint.HandleAsync(context))
            .DisableAntiforgery()
            .WithName("DiscordInteractions");
        return endpoints;
    }

}

/// <summary>Registers the commands once at start-up; with a leadership, once this process's turn has come.</summary>
internal sealed partial class CommandRegistrationService(
    IReadOnlyList<SlashCommand> commands, CommandRegistrar registrar, TimeProvider time, ILogger<CommandRegistrationService> logger,
    IGatewayLeadership? leadership = null) : BackgroundService
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (leadership is not null)
        {
            LogWaitingForTurn(logger);
            try
            {
                // The term's own token is not used: an upload under way when the term ends is finished, and the next
                // holder's check then finds the commands in place.
                await leadership.WaitForTurnAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await registrar.RegisterAsync(commands, stoppingToken);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (DiscordRestException e) when (e.BotTokenRejected)
            {
                // Retrying a rejected token only adds invalid requests. The gateway, which asks GET /gateway/bot with
                // the same token, stops the host with the same sentence.
                LogTokenRejected(logger, GatewayCloseCodes.TokenRejectedMessage(e.Route ?? "a bot-token route"));
                return;
            }
            catch (Exception e) when (attempt < Backoff.Length)
            {
                LogRetry(logger, e, Backoff[attempt].TotalSeconds);
                await Task.Delay(Backoff[attempt], time, stoppingToken);
            }
            catch (Exception e)
            {
                LogGaveUp(logger, e);
                return;
            }
        }
    }

    [LoggerMessage(EventId = 3145, Level = LogLevel.Information, Message = "Slash commands are checked by the process that holds the gateway; this one checks when its turn comes.")]
    private static partial void LogWaitingForTurn(ILogger logger);

    [LoggerMessage(EventId = 3142, Level = LogLevel.Warning, Message = "Command registration failed; retrying in {Seconds} s.")]
    private static partial void LogRetry(ILogger logger, Exception exception, double seconds);

    [LoggerMessage(EventId = 3144, Level = LogLevel.Error, Message = "Command registration stopped: {Message}")]
    private static partial void LogTokenRejected(ILogger logger, string message);

    [LoggerMessage(EventId = 3143, Level = LogLevel.Error, Message = "Command registration failed; slash commands may be out of date until the next start.")]
    private static partial void LogGaveUp(ILogger logger, Exception exception);
}
