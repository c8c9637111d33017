using System.Diagnostics.Metrics;
using Dockhand.Containers;
using Prometheus;

namespace Dockhand.Observability;

/// <summary>
/// GET /metrics (Prometheus text format) on its own listener, METRICS_URLS, never on LISTEN_URLS: a second, minimal
/// Kestrel app that serves nothing else, started and stopped with the host. Its registry holds the modules'
/// instruments (<see cref="PrometheusBridge"/>) and prometheus-net's process and .NET runtime collectors.
/// </summary>
internal sealed partial class MetricsServer : IHostedService, IAsyncDisposable
{
    public const string UrlsKey = "METRICS_URLS";
    public const string DefaultUrls = "http://127.0.0.1:9464";

    private readonly IReadOnlyList<string> _urls;
    private readonly CollectorRegistry _registry;
    private readonly PrometheusBridge _bridge;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private WebApplication? _app;

    public MetricsServer(IReadOnlyList<string> urls, IMeterFactory meterFactory, ILoggerFactory loggers)
    {
        _urls = urls;
        _loggers = loggers;
        _logger = loggers.CreateLogger<MetricsServer>();
        _registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(_registry);
        _bridge = new PrometheusBridge(meterFactory, _registry);
    }

    /// <summary>Where /metrics answers, once started (the bound ports when a URL asked for port 0).</summary>
    public IReadOnlyList<string> Urls => _app?.Urls.ToList() ?? [];

    /// <summary>
    /// METRICS_URLS: unset means <see cref="DefaultUrls"/>; empty turns metrics off (an empty list). Throws
    /// <see cref="InvalidSettingException"/> for a value that is not a list of http(s) URLs.
    /// </summary>
    public static IReadOnlyList<string> ReadUrls(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration[UrlsKey] ?? DefaultUrls;
        var urls = value.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var url in urls)
        {
            if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                throw new InvalidSettingException(UrlsKey, $"'{url}' is not a URL to listen on, such as {DefaultUrls}; leave {UrlsKey} empty to turn metrics off");
        }
        return urls;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls([.. _urls]);
        // The host's logging (same format and filters), and no second console lifetime catching SIGTERM.
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggers);
        builder.Services.AddSingleton<IHostLifetime, OwnedLifetime>();
        _app = builder.Build();
        _app.MapMetrics("/metrics", _registry);
        await _app.StartAsync(cancellationToken);
        var where = string.Join(", ", _app.Urls.Select(u => u.TrimEnd('/') + "/metrics"));
        LogServing(_logger, where);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
            await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _bridge.Dispose();
        if (_app is not null)
            await _app.DisposeAsync();
    }

    [LoggerMessage(EventId = 4300, Level = LogLevel.Information, Message = "Metrics (Prometheus) on {Urls}")]
    private static partial void LogServing(ILogger logger, string urls);

    /// <summary>The metrics app lives and dies with the Dockhand host, which owns the signals.</summary>
    private sealed class OwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
