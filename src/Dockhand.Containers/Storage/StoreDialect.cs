using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Dockhand.Containers.Storage;

/// <summary>Which database holds Dockhand's records.</summary>
public enum StoreKind
{
    /// <summary>One SQLite file (<c>DATABASE_PATH</c>), the default.</summary>
    Sqlite,

    /// <summary>A PostgreSQL database (<c>DATABASE_URL=postgres://…</c>), which processes on several hosts can share.</summary>
    Postgres,
}

/// <summary>
/// What differs between the two databases. Queries themselves are one text for both (named <c>@parameters</c>, times
/// as fixed-width ISO-8601 text, <c>RETURNING</c>, <c>LIMIT/OFFSET</c>); tables are created by per-dialect migrations.
/// What is left is here: opening a connection, serialising writers, telling a constraint violation, and proving that
/// the process behind an operation is alive.
/// </summary>
internal abstract class StoreDialect : IDisposable
{
    public abstract StoreKind Kind { get; }

    /// <summary>Where the data is, as an operator may see it (a file path, or a URL without its password).</summary>
    public abstract string Location { get; }

    /// <summary>False only for a SQLite file that is not there yet.</summary>
    public abstract bool Exists { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a transaction in which no other writer of <paramref name="scope"/> runs until it ends, in any process:
    /// SQLite's BEGIN IMMEDIATE (one writer per file), or a PostgreSQL transaction-level advisory lock on the scope.
    /// A read-check-write sequence inside it (one container per owner, the links-per-minute limit) cannot interleave.
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, string scope, CancellationToken cancellationToken);

    /// <summary>True when a statement failed on a constraint (unique, primary key, not null, check).</summary>
    public abstract bool IsConstraintViolation(DbException exception);

    public abstract IOperationLease CreateLease();

    /// <summary>PostgreSQL: a connection string for a session of its own (never pooled), for <see cref="InstanceLeadership"/>. SQLite: null.</summary>
    public virtual string? OwnSessionConnectionString => null;

    public abstract void Dispose();

    /// <summary>A stable 64-bit key for a PostgreSQL advisory lock named <paramref name="scope"/>.</summary>
    internal static long LockKey(string scope)
        => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("dockhand:" + scope)), 0);
}

internal sealed class SqliteDialect : StoreDialect
{
    private readonly string _connectionString;

    public SqliteDialect(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public override StoreKind Kind => StoreKind.Sqlite;

    public override string Location => Path;

    public override bool Exists => File.Exists(Path);

    /// <summary>Opens a connection with WAL, foreign keys and a busy timeout set.</summary>
    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
            Directory.CreateDirectory(directory);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public override Task<DbTransaction> BeginWriteAsync(DbConnection connection, string scope, CancellationToken cancellationToken)
        => Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public override bool IsConstraintViolation(DbException exception) => exception is SqliteException { SqliteErrorCode: 19 };

    public override IOperationLease CreateLease() => new ProcessLease(Path);

    public override void Dispose()
    {
    }
}

internal sealed class PostgresDialect : StoreDialect
{
    private readonly NpgsqlDataSource _source;
    private readonly string _connectionString;

    public PostgresDialect(string url)
    {
        var builder = PostgresUrl.Parse(url);
        Location = PostgresUrl.Redact(builder);
        _connectionString = builder.ConnectionString;
        _source = NpgsqlDataSource.Create(builder);
    }

    public override StoreKind Kind => StoreKind.Postgres;

    public override string Location { get; }

    /// <summary>The server's database exists or the connection fails; its tables are made by the first migration.</summary>
    public override bool Exists => true;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
        => await _source.OpenConnectionAsync(cancellationToken);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, string scope, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT pg_advisory_xact_lock(@key)";
            command.AddParameter("@key", LockKey(scope));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    // Class 23 is "integrity constraint violation" (unique, not null, check, foreign key), as SQLite's SQLITE_CONSTRAINT.
    public override bool IsConstraintViolation(DbException exception)
        => exception is PostgresException postgres && postgres.SqlState.StartsWith("23", StringComparison.Ordinal);

    public override IOperationLease CreateLease() => new PostgresLease(_source, _connectionString);

    public override string? OwnSessionConnectionString => new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();

    public override void Dispose() => _source.Dispose();
}

/// <summary>Named parameters the same way for both providers.</summary>
public static class DbCommandExtensions
{
    /// <summary>Adds <paramref name="name"/> (with its <c>@</c>) = <paramref name="value"/>; null is SQL NULL.</summary>
    public static DbCommand AddParameter(this DbCommand command, string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return command;
    }
}
