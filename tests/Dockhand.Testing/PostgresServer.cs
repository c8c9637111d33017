using System.Diagnostics;
using System.Security.Cryptography;
using Dockhand.Containers.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Dockhand.Testing;

/// <summary>
/// The real PostgreSQL server the store tests run against: the one scripts/test.sh started (its URL in
/// <see cref="UrlVariable"/>), or, when that is unset (a single test project run from an IDE), one this fixture starts
/// the same way (scripts/postgres.sh, Debian's postgresql package) and stops at the end. Never a skip: no server is a
/// failure that names the script. Each test gets a database of its own (<see cref="CreateDatabaseAsync"/>).
/// Shared by the Containers and Terminal test projects.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string UrlVariable = "DOCKHAND_TEST_POSTGRES_URL";

    private string? _ownDirectory;
    private string? _repository;

    /// <summary>The server's maintenance database (postgres://…/postgres); tests use <see cref="CreateDatabaseAsync"/>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>How long starting the server took here (zero when scripts/test.sh had started it).</summary>
    public TimeSpan StartTime { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(UrlVariable) is { Length: > 0 } url)
        {
            Url = url;
            return;
        }
        _repository = FindRepository();
        var parent = Directory.CreateTempSubdirectory("dockhand-pg-").FullName;
        // The server runs as the postgres user when the tests run as root: it must be able to enter the directory.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(parent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _ownDirectory = Path.Combine(parent, "server");
        var started = Stopwatch.StartNew();
        var (status, output, error) = await RunScriptAsync("start", _ownDirectory);
        StartTime = started.Elapsed;
        if (status != 0)
            throw new InvalidOperationException($"{UrlVariable} is not set and scripts/postgres.sh could not start a PostgreSQL server (exit {status}): {error.Trim()} " +
                "Run the tests with scripts/test.sh, or install Debian's postgresql package (scripts/prereqs.sh postgresql).");
        Url = output.Trim();
    }

    /// <summary>A new empty database on the server, named for this test; its URL.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var name = "dockhand_test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        await using var connection = new NpgsqlConnection(PostgresUrl.Parse(Url).ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name}";
        await command.ExecuteNonQueryAsync(cancellationToken);
        var builder = new UriBuilder(Url) { Path = "/" + name };
        return builder.Uri.AbsoluteUri;
    }

    /// <summary>Drops a database <see cref="CreateDatabaseAsync"/> made, ending its sessions first.</summary>
    public async Task DropDatabaseAsync(string url)
    {
        NpgsqlConnection.ClearAllPools();
        var name = new Uri(url).AbsolutePath.TrimStart('/');
        await using var connection = new NpgsqlConnection(PostgresUrl.Parse(Url).ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"DROP DATABASE IF EXISTS {name} WITH (FORCE)";
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_ownDirectory is not null)
        {
            await RunScriptAsync("stop", _ownDirectory);
            Directory.Delete(Path.GetDirectoryName(_ownDirectory)!, recursive: true);
        }
    }

    private async Task<(int Status, string Output, string Error)> RunScriptAsync(string action, string directory)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(_repository!, "scripts", "postgres.sh"), action, directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        // The pipes close when the script ends, unless the server it started still holds them: bounded either way.
        var outputGrace = TimeSpan.FromSeconds(10);
        return (process.ExitCode, await output.WaitAsync(outputGrace), await error.WaitAsync(outputGrace));
    }

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "scripts", "postgres.sh")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"{UrlVariable} is not set and scripts/postgres.sh was not found above {AppContext.BaseDirectory}; run the tests with scripts/test.sh.");
    }
}

/// <summary>A fresh, empty database of one kind for one test: a SQLite file in a temporary directory, or a new PostgreSQL database.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly PostgresServer _server;
    private readonly List<DockhandDatabase> _opened = [];

    private TestDatabase(PostgresServer server, StoreKind kind, string directory, string? url)
    {
        _server = server;
        Kind = kind;
        Directory = directory;
        Url = url;
    }

    public StoreKind Kind { get; }

    /// <summary>A temporary directory for the test (the SQLite file lives here).</summary>
    public string Directory { get; }

    /// <summary>The PostgreSQL database's URL (null for SQLite).</summary>
    public string? Url { get; }

    public string SqlitePath => Path.Combine(Directory, "containers.db");

    public static async Task<TestDatabase> CreateAsync(PostgresServer server, StoreKind kind, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        var directory = System.IO.Directory.CreateTempSubdirectory("dockhand-store-").FullName;
        var url = kind == StoreKind.Postgres ? await server.CreateDatabaseAsync(cancellationToken) : null;
        return new TestDatabase(server, kind, directory, url);
    }

    /// <summary>A new <see cref="DockhandDatabase"/> on this test's data (each is a separate "process" view of it: own pool, own lease).</summary>
    public DockhandDatabase Open()
    {
        var database = Kind == StoreKind.Postgres ? DockhandDatabase.ForPostgres(Url!) : new DockhandDatabase(SqlitePath);
        _opened.Add(database);
        return database;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var database in _opened)
            database.Dispose();
        SqliteConnection.ClearAllPools();
        if (Url is not null)
            await _server.DropDatabaseAsync(Url);
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
