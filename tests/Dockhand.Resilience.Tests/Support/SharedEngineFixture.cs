namespace Dockhand.Resilience.Tests.Support;

/// <summary>
/// The shared engine (<see cref="EngineFixture"/>: other engineers' tests run on it at the same time). Everything this
/// run creates carries <c>dockhand.test=&lt;RunId&gt;</c>, and each test also gets its own scope label so the reconcilers
/// of different tests never see each other's containers. Disposal removes this run's containers and its directory.
/// </summary>
public sealed class SharedEngineFixture : IAsyncLifetime
{
    private static long s_nextUser = 1_250_000_000_000_000_000 + Random.Shared.Next(0, 1_000_000) * 1000L;

    public EngineFixture Engine { get; } = new();

    public string RunId => Engine.RunId;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("dockhand-resilience-").FullName;

    /// <summary>A fresh owner snowflake.</summary>
    public static string NextUser() => Interlocked.Increment(ref s_nextUser).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A dockhand child process for one test: its own database, scope label and working directory.</summary>
    public (DockhandProcess Dockhand, string DatabasePath, string Scope) NewScope(string name, string? databaseDirectory = null)
    {
        var scope = $"{name}-{Guid.NewGuid().ToString("N")[..8]}";
        var work = System.IO.Directory.CreateDirectory(Path.Combine(Directory, scope)).FullName;
        var database = Path.Combine(databaseDirectory ?? work, "containers.db");
        var dockhand = new DockhandProcess(work, new Dictionary<string, string?>
        {
            ["DATABASE_PATH"] = database,
            ["DOCKER_HOST"] = Engine.DockerHost.ToString(),
            ["DEFAULT_IMAGE"] = EngineFixture.TestImage,
            ["CONTAINER_EXTRA_LABELS"] = $"dockhand.test={RunId},resilience.scope={scope}",
            ["CONTAINER_MEMORY_LIMIT"] = "64m",
            ["Logging__LogLevel__Default"] = "Warning",
        });
        return (dockhand, database, scope);
    }

    public async ValueTask InitializeAsync() => await Engine.InitializeAsync();

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
