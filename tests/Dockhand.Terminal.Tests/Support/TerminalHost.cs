using System.Net;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal.Tests.Support;

/// <summary>The terminal hosted the way Dockhand hosts it: a real Kestrel on 127.0.0.1, port 0, a real SQLite file.</summary>
public sealed class TerminalHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private TerminalHost(WebApplication app, string directory, Uri baseAddress, string databasePath)
    {
        _app = app;
        _directory = directory;
        BaseAddress = baseAddress;
        DatabasePath = databasePath;
    }

    public Uri BaseAddress { get; }

    /// <summary>The SQLite file; a second host started on it is a second Dockhand process on the same database.</summary>
    public string DatabasePath { get; }

    public IServiceProvider Services => _app.Services;

    public TerminalLinks Links => _app.Services.GetRequiredService<TerminalLinks>();

    internal TerminalSessions Sessions => _app.Services.GetRequiredService<TerminalSessions>();

    /// <param name="engineEndpoint">The engine the terminal's runtime (the containers module's IContainerRuntime) talks to;
    /// DOCKER_HOST or the default socket when null.</param>
    public static async Task<TerminalHost> StartAsync(TimeProvider? time = null, IDictionary<string, string?>? settings = null,
        string? databasePath = null, Uri? engineEndpoint = null, CancellationToken cancellationToken = default)
    {
        var directory = Directory.CreateTempSubdirectory("dockhand-terminal-").FullName;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());

#pragma warning disable CA2000 // The app's services own it (a factory registration) and dispose it with the app.
        var path = databasePath ?? Path.Combine(directory, "containers.db");
        var database = new DockhandDatabase(path);
#pragma warning restore CA2000
        if (databasePath is null)
            await database.MigrateAsync([TerminalSchema.Migrations], cancellationToken);
        builder.Services.AddSingleton(_ => database);
        builder.Services.AddSingleton<TimeProvider>(time ?? TimeProvider.System);
        // The containers module's runtime, the terminal's one way to the engine (not the whole module: no reconciler
        // touching the shared engine).
        var engineHost = engineEndpoint ?? new Uri(Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock");
        builder.Services.AddDockhandContainerRuntime(new ContainerOptions { DockerHost = engineHost });
        builder.Services.AddDockhandTerminal(builder.Configuration);

        var app = builder.Build();
        // The pipeline as DockhandHost writes it out.
        app.UseDockhandForwardedHeaders();
        app.UseDockhandSecurityHeaders();
        app.UseWebSockets(TerminalServiceCollectionExtensions.WebSocketOptions);
        app.UseRouting();
        app.MapDockhandTerminal();
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var baseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        var options = app.Services.GetRequiredService<IOptions<TerminalOptions>>().Value;
        if (settings is null || !settings.ContainsKey(TerminalOptions.ServiceUrlKey))
            options.ServiceUrl = baseAddress; // links point at this test server
        return new TerminalHost(app, directory, baseAddress, path);
    }

    /// <summary>An HTTP client that does not follow redirects and keeps cookies.</summary>
    public HttpClient CreateClient(CookieContainer? cookies = null)
    {
#pragma warning disable CA2000 // The client owns its handler and disposes it with itself.
        return new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies ?? new CookieContainer(), UseCookies = true }) { BaseAddress = BaseAddress };
#pragma warning restore CA2000
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
