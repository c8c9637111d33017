using Dockhand.Bot.Commands;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Dockhand.Bot;

public static class BotServiceCollectionExtensions
{
    /// <summary>
    /// Registers the bot: <see cref="BotOptions"/> (read now; a bad AUTHORIZED_USERS throws
    /// <see cref="Containers.InvalidSettingException"/>), the <see cref="IInteractionHandler"/> that routes every
    /// interaction, one handler per slash command, the /destroy and /list buttons and the image autocomplete.
    /// Needs the container module (ContainerService) and the terminal module (TerminalLinks).
    /// </summary>
    public static IServiceCollection AddDockhandBot(this IServiceCollection services, IConfiguration configuration)
        => services.AddDockhandBot(BotOptions.FromConfiguration(configuration));

    /// <summary>As above, with options already built (tests).</summary>
    public static IServiceCollection AddDockhandBot(this IServiceCollection services, BotOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
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
