using Dockhand.Bot;
using Dockhand.Containers;
using System.Diagnostics.Metrics;
using Dockhand.Discord;
using Dockhand.Observability;
using Dockhand.ScaleOut;
using Dockhand.Terminal;
using Microsoft.Extensions.Options;

namespace Dockhand;

/// <summary>
/// The composition root of <c>dockhand run</c>: one ASP.NET Core host with the container module (its
/// IContainerRuntime is the one way to the engine, the terminal's shells included; its engine and database checks
/// back /health), the web terminal, the
/// bot, the HTTP interactions endpoint (when DISCORD_PUBLIC_KEY is set) and the gateway plus command registration
/// (when DISCORD_TOKEN is set). Kestrel listens on LISTEN_URLS; GET /metrics has its own listener, METRICS_URLS
/// (<see cref="MetricsServer"/>).
/// </summary>
internal static class DockhandHost
{
    public const string ListenUrlsKey = "LISTEN_URLS";
    public const string DefaultListenUrls = "http://127.0.0.1:5000";
    public const string ConsoleTimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
    public const string LogFormatKey = "LOG_FORMAT";

    public static bool HasToken(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[DiscordConfiguration.TokenKey]);

    public static bool HasPublicKey(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[DiscordConfiguration.PublicKeyKey]);

    /// <summary>
    /// Builds the host. Throws <see cref="InvalidSettingException"/> for a bad LOG_FORMAT or METRICS_URLS, and
    /// <see cref="OptionsValidationException"/> (several modules: an <see cref="AggregateException"/> of them) for a bad
    /// module setting: the modules' start-up check (<c>ValidateOnStart</c>) is run here, once the services are built.
    /// </summary>
    public static WebApplication Build(IConfiguration configuration, Action<WebApplicationBuilder>? customize = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var jsonLogs = ReadJsonLogFormat(configuration);
        var metricsUrls = MetricsServer.ReadUrls(configuration);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.AddConfiguration(configuration);
        var urls = configuration[ListenUrlsKey] is { Length: > 0 } u ? u : DefaultListenUrls;
        builder.WebHost.UseUrls(urls.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        // By default Kestrel passes every read to the request's code, and every write to the socket, through the thread
        // pool once more after the socket's own completion (which the runtime already runs on a pool thread): four hops
        // in a keystroke's round trip through the terminal instead of two. Inline, the code runs on the thread that
        // completed the read; the epoll thread is never blocked, since DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS
        // stays unset. P3, 10 alternating runs each: p99 0.65 ms against 0.74, p99.9 1.26 against 1.74 (docs/performance.md).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        // One line per HTTP request is noise for an operator; Logging:LogLevel in appsettings.json can turn it back on.
        if (configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Never configurable: GET /terminal/{id}?token=… carries a one-time token in its query string, and these categories
        // print request URLs. They stay at Warning whatever Logging:LogLevel says (see HideRequestUrls).
        builder.Services.PostConfigure<LoggerFilterOptions>(HideRequestUrls);
        // Console lines say when, in UTC, so an operator can line them up with Discord's and the engine's times.
        // LOG_FORMAT=json: one JSON object per line (Timestamp, EventId, LogLevel, Category, Message, State) for a log shipper.
        if (jsonLogs)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = ConsoleTimestampFormat.TrimEnd();
                o.UseUtcTimestamp = true;
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        else
        {
            // One line per event, so grep and a line-based shipper see each event whole.
            builder.Logging.AddSimpleConsole(o =>
            {
                o.TimestampFormat = ConsoleTimestampFormat;
                o.UseUtcTimestamp = true;
                o.SingleLine = true;
            });
        }

        var services = builder.Services;
        // First, so it is built (and listening to the meters) before any other hosted service runs.
        if (metricsUrls.Count > 0)
        {
            services.AddSingleton(sp => new MetricsServer(metricsUrls, sp.GetRequiredService<IMeterFactory>(), sp.GetRequiredService<ILoggerFactory>()));
            services.AddHostedService(sp => sp.GetRequiredService<MetricsServer>());
        }
        services.AddDockhandContainers(configuration);
        services.AddDockhandTerminal(configuration);
        services.AddDockhandDiscord(configuration);
        if (HasToken(configuration))
        {
            services.AddDockhandDiscordGateway();
            services.AddDockhandDiscordCommands(BotCommands.All);
            // On a shared PostgreSQL database several processes may run: one holds the gateway at a time and hands it over.
            if (!string.IsNullOrWhiteSpace(configuration[ContainerOptions.Keys.DatabaseUrl]))
                services.AddDockhandGatewayHandover();
        }
        services.AddDockhandBot(configuration);
        customize?.Invoke(builder);

        var app = builder.Build();
        // Every module's settings, checked before the pipeline below reads any of them (ValidateOnStart alone would
        // check them only when the host starts): one line per bad setting, naming its key.
        try
        {
            app.Services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch
        {
            ((IHost)app).Dispose();
            throw;
        }
        // The whole pipeline, in order. Forwarded headers first (loopback and TRUSTED_PROXIES), before anything reads the
        // scheme or host; then the security headers, so every response carries them, errors and 404s included; then
        // WebSockets for the terminal's socket; then routing to the endpoints below.
        app.UseDockhandForwardedHeaders();
        app.UseDockhandSecurityHeaders();
        app.UseWebSockets(TerminalServiceCollectionExtensions.WebSocketOptions);
        app.UseRouting();
        app.MapDockhandHealth();
        app.MapDockhandTerminal();
        app.MapDiscordInteractions();
        return app;
    }

    /// <summary>LOG_FORMAT: text (the default) or json. Throws <see cref="InvalidSettingException"/> for anything else.</summary>
    internal static bool ReadJsonLogFormat(IConfiguration configuration)
    {
        var value = configuration[LogFormatKey]?.Trim();
        if (string.IsNullOrEmpty(value) || value.Equals("text", StringComparison.OrdinalIgnoreCase))
            return false;
        if (value.Equals("json", StringComparison.OrdinalIgnoreCase))
            return true;
        throw new InvalidSettingException(LogFormatKey, $"'{value}' is not a log format; use text (the default) or json");
    }

    /// <summary>The ASP.NET Core log categories that write a request's URL (query string included).</summary>
    internal static readonly string[] RequestUrlCategories =
    [
        "Microsoft.AspNetCore.Hosting.Diagnostics",
        "Microsoft.AspNetCore.HttpLogging",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.StaticFiles",
        "Microsoft.AspNetCore.Server.Kestrel.BadRequests",
    ];

    /// <summary>
    /// Caps <see cref="RequestUrlCategories"/> at Warning. Runs after every other logging configuration, and adds the
    /// rule for each provider named in the rules too, because a provider-specific rule (Logging:Console:LogLevel:…)
    /// would otherwise win over a provider-less one.
    /// </summary>
    private static void HideRequestUrls(LoggerFilterOptions options)
    {
        var providers = options.Rules.Select(r => r.ProviderName).Distinct().Prepend(null).Distinct().ToList();
        foreach (var provider in providers)
            foreach (var category in RequestUrlCategories)
                options.Rules.Add(new LoggerFilterRule(provider, category, LogLevel.Warning, filter: null));
    }

    /// <summary>Migrates the database, checks the settings only the engine can judge (CONTAINER_DISK_LIMIT), then starts serving.</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.Services.GetRequiredService<ContainerStore>().MigrateAsync(cancellationToken);
        await app.Services.CheckEngineSettingsAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
        // Once per start: with an empty allowlist nobody can /create, and the operator should learn why from the log.
        if (app.Services.GetRequiredService<BotOptions>().AuthorizedUsersInOrder.Count == 0)
            BotLog.NoAuthorizedUsers(app.Services.GetRequiredService<ILogger<BotAuthorizer>>());
    }
}
