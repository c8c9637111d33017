using System.Net;
using System.Text.Json;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dockhand.Tests.Operations;

/// <summary>
/// <c>GET /health</c> as the host maps it, answered by the container module's own checks (<c>engine</c>, <c>database</c>),
/// on a real Kestrel on 127.0.0.1 with a real SQLite file and the real engine (or none).
/// </summary>
public sealed class HealthTests(EngineFixture fixture) : IClassFixture<EngineFixture>, IDisposable
{
    private const string DeadEngine = "unix:///tmp/dockhand-no-such-engine.sock";
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-health-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Health_EngineAndDatabaseUp_Returns200WithBoth()
    {
        await using var app = await StartAsync(fixture.DockerHost, Path.Combine(_directory, "containers.db"), migrate: true);

        var (status, json) = await GetHealthAsync(app);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("healthy", Check(json, "engine"));
        Assert.Equal("healthy", Check(json, "database"));
    }

    [Fact]
    public async Task Health_EngineDown_Returns503NamingTheEngine()
    {
        await using var app = await StartAsync(new Uri(DeadEngine), Path.Combine(_directory, "containers.db"), migrate: true);

        var (status, json) = await GetHealthAsync(app);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("unhealthy", Check(json, "engine"));
        Assert.Equal("healthy", Check(json, "database"));
        // The description stays generic: /health may be public, and the engine's error names local paths.
        Assert.DoesNotContain("dockhand-no-such-engine", json.RootElement.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_DatabaseUnreadable_Returns503NamingTheDatabase()
    {
        // A path under a regular file can never be opened.
        var blocker = Path.Combine(_directory, "blocker");
        await File.WriteAllTextAsync(blocker, "", Ct);
        await using var app = await StartAsync(fixture.DockerHost, Path.Combine(blocker, "containers.db"), migrate: false);

        var (status, json) = await GetHealthAsync(app);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("unhealthy", Check(json, "database"));
        Assert.Equal("healthy", Check(json, "engine"));
    }

    private static string? Check(JsonDocument json, string name)
        => json.RootElement.GetProperty("checks").GetProperty(name).GetProperty("status").GetString();

    /// <summary>Only what the checks need (no reconciler on the shared engine), and /health mapped as DockhandHost maps it.</summary>
    private static async Task<WebApplication> StartAsync(Uri engine, string databasePath, bool migrate)
    {
#pragma warning disable CA2000 // The app's services own it (a factory registration) and dispose it with the app.
        var database = new DockhandDatabase(databasePath);
#pragma warning restore CA2000
        if (migrate)
            await database.MigrateAsync(Ct);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_ => database);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ContainerStore>();
        builder.Services.AddDockhandContainerRuntime(new ContainerOptions { DockerHost = engine });
        builder.Services.AddHealthChecks().AddDockhandContainerChecks();
        var app = builder.Build();
        app.MapDockhandHealth();
        await app.StartAsync(Ct);
        return app;
    }

    private static async Task<(HttpStatusCode Status, JsonDocument Json)> GetHealthAsync(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
