using Dockhand.Bot;
using Dockhand.Containers;
using Dockhand.Discord;
using Dockhand.Terminal;
using Microsoft.Extensions.Options;

namespace Dockhand;

/// <summary>
/// The composition root of <c>dockhand run</c>: one ASP.NET Core host with the container module (its negotiated
/// IDockerClient is the one the terminal uses too, and its engine and database back /health), the web terminal, the
/// bot, the HTTP interactions endpoint (when DISCORD_PUBLIC_KEY is set) and the gateway plus command registration
/// (when DISCORD_TOKEN is set). Kestrel listens on LISTEN_URLS.
/// </summary>
internal static class DockhandHost
{
    public const string ListenUrlsKey = "LISTEN_URLS";
    public const string DefaultListenUrls = "http://127.0.0.1:5000";

    public static bool HasToken(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[DiscordConfiguration.TokenKey]);

    public static bool HasPublicKey(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[DiscordConfiguration.PublicKeyKey]);

    /// <summary>Builds the host. Throws <see cref="InvalidSettingException"/> for a bad container or bot setting.</summary>
    public static WebApplication Build(IConfiguration configuration, Action<WebApplicationBuilder>? customize = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.AddConfiguration(configuration);
        var urls = configuration[ListenUrlsKey] is { Length: > 0 } u ? u : DefaultListenUrls;
        builder.WebHost.UseUrls(urls.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        // One line per HTTP request is noise for an operator; Logging:LogLevel in appsettings.json can turn it back on.
        if (configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        var services = builder.Services;
        services.AddDockhandContainers(configuration);
        services.AddDockhandTerminal(configuration);
        services.AddDockhandDiscord(configuration);
        if (HasToken(configuration))
        {
            services.AddDockhandDiscordGateway();
            services.AddDockhandDiscordCommands(BotCommands.All);
        }
        else
        {
            AllowMissingToken(services, configuration);
        }
        services.AddDockhandBot(configuration);
        customize?.Invoke(builder);

        var app = builder.Build();
        app.MapDockhandTerminal();
        app.MapDiscordInteractions();
        return app;
    }

    /// <summary>Migrates the database, then starts serving.</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.Services.GetRequiredService<ContainerStore>().MigrateAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
    }

    /// <summary>
    /// With only DISCORD_PUBLIC_KEY (HTTP interactions, no gateway) a bot token is not needed: interaction callbacks and
    /// @original edits are authorised by the interaction token. The Discord module's validator insists on DISCORD_TOKEN,
    /// so it is replaced by one that drops just that line (every other DISCORD_* problem still stops start-up).
    /// </summary>
    private static void AllowMissingToken(IServiceCollection services, IConfiguration configuration)
    {
        var validators = services.Where(d => d.ServiceType == typeof(IValidateOptions<DiscordOptions>)).ToList();
        foreach (var descriptor in validators)
            services.Remove(descriptor);
        services.AddSingleton<IValidateOptions<DiscordOptions>>(new TokenOptionalValidator(configuration));
    }

    private sealed class TokenOptionalValidator(IConfiguration configuration) : IValidateOptions<DiscordOptions>
    {
        public ValidateOptionsResult Validate(string? name, DiscordOptions options)
        {
            var problems = DiscordConfiguration.Read(configuration, new DiscordOptions())
                .Where(p => !p.StartsWith(DiscordConfiguration.TokenKey + " is not set", StringComparison.Ordinal))
                .ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
