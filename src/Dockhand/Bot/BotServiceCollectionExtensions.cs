using Dockhand.Bot.Commands;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Dockhand.Bot;

public static class BotServiceCollectionExtensions
{
    /// <summary>
    /// Registers the bot: <see cref="BotOptions"/> (bound, and checked at start-up: a bad AUTHORIZED_USERS is one
    /// line of an <see cref="OptionsValidationException"/>), the <see cref="IInteractionHandler"/> that routes every
    /// interaction, one handler per slash command, the /destroy and /list buttons and the image autocomplete.
    /// Needs the container module (ContainerService) and the terminal module (TerminalLinks).
    /// </summary>
    public static IServiceCollection AddDockhandBot(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<BotOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BotOptions>, BotOptionsValidator>());
        return services.AddBotServices();
    }

    /// <summary>As above, with options already built (tests): no binding, no start-up check.</summary>
    public static IServiceCollection AddDockhandBot(this IServiceCollection services, BotOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(Options.Create(options));
        return services.AddBotServices();
    }

    private static IServiceCollection AddBotServices(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<BotOptions>>().Value);
        services.AddSingleton<BotAuthorizer>();
        services.AddSingleton<BotReplies>();
        services.AddSingleton<CreateCommand>();
        services.AddSingleton<DestroyCommand>();
        services.AddSingleton<ListCommand>();
        services.AddSingleton<IBotCommand>(sp => sp.GetRequiredService<CreateCommand>());
        services.AddSingleton<IBotCommand>(sp => sp.GetRequiredService<DestroyCommand>());
        services.AddSingleton<IBotCommand>(sp => sp.GetRequiredService<ListCommand>());
        services.AddSingleton<IBotCommand, StatusCommand>();
        services.AddSingleton<IBotCommand, TerminalCommand>();
        services.AddSingleton<IBotCommand, StartCommand>();
        services.AddSingleton<IBotCommand, StopCommand>();
        services.AddSingleton<IBotCommand, RestartCommand>();
        services.AddSingleton<IBotComponent>(sp => sp.GetRequiredService<DestroyCommand>());
        services.AddSingleton<IBotComponent>(sp => sp.GetRequiredService<ListCommand>());
        services.AddSingleton<IBotAutocomplete, ImageAutocomplete>();
        services.AddSingleton<IInteractionHandler, BotInteractionHandler>();
        return services;
    }
}
