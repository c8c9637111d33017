using System.Security.Cryptography;
using Npgsql;

namespace Dockhand.Containers.Storage;

/// <summary>
/// Liveness of an operation on PostgreSQL, for processes on any host: the process holds a session-level advisory lock
/// (<c>pg_try_advisory_lock(Class, key)</c>) on one connection of its own for as long as it runs, and writes
/// <c>pglock:&lt;key&gt;</c> into operation_process. The server releases the lock the moment that session ends: the
/// process exits or is killed (its socket closes), or its host vanishes (the session's TCP keepalive, set to about 30 s
/// below, ends it). Another process asks "is it alive?" by trying the same lock in one statement and releasing it at
/// once: it gets the lock only when no session holds it, so a live holder is never taken for a dead one.
/// </summary>
/// <remarks>
/// What it proves is "the holder's session is connected to this server", not "the process runs": a process whose lease
/// connection breaks (a server restart, a network cut) looks dead until it reconnects, and another process may roll
/// its operation back meanwhile. The holder re-takes its own key on the next <see cref="Current"/> after such a break.
/// Tokens of another kind (a SQLite lease or pid copied by <c>dockhand migrate-store</c>) name processes that worked on
/// another database, so they count as dead here. When the server cannot be asked, a token counts as alive: nothing is
/// rolled back on a guess.
/// </remarks>
internal sealed class PostgresLease : IOperationLease
{
    /// <summary>The first key of Dockhand's two-key advisory locks for leases ("dklk"), apart from any other use.</summary>
    internal const int Class = 0x646b6c6b;
    private const string Prefix = "pglock:";

    private readonly NpgsqlDataSource _source;
    private readonly string _ownConnectionString;
    private readonly Lock _gate = new();
    private NpgsqlConnection? _connection;
    private int _key;
    private string? _token;
    private bool _disposed;

    /// <param name="source">The pool the liveness checks borrow from.</param>
    /// <param name="connectionString">For the lease's own connection, which is never pooled: closing it must end the session.</param>
    public PostgresLease(NpgsqlDataSource source, string connectionString)
    {
        _source = source;
        _ownConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ToString();
    }

    public string Current
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                // A broken session shows only when used, so every operation checks that its lease is still held (one
                // round trip on the lease's own connection) before writing the token into a row.
                if (_token is not null && StillHeld())
                    return _token;
                Acquire();
                return _token!;
            }
        }
    }

    public bool IsAlive(string? operationProcess)
    {
        if (operationProcess is null)
            return false;
        lock (_gate)
        {
            if (operationProcess == _token)
                return true;
        }
        if (!operationProcess.StartsWith(Prefix, StringComparison.Ordinal)
            || !int.TryParse(operationProcess.AsSpan(Prefix.Length), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var key))
            return false;
        try
        {
            // Callers are synchronous (the reconciler's and the service's checks); this is one round trip.
            using var connection = _source.OpenConnection();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT CASE WHEN pg_try_advisory_lock(@class, @key) THEN NOT pg_advisory_unlock(@class, @key) ELSE true END";
            command.Parameters.AddWithValue("class", Class);
            command.Parameters.AddWithValue("key", key);
            return command.ExecuteScalar() is not false;
        }
        catch (NpgsqlException)
        {
            return true;
        }
    }

    private bool StillHeld()
    {
        if (_connection is not { State: System.Data.ConnectionState.Open } connection)
            return false;
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                               AND classid = CAST(@class AS INTEGER)::oid AND objid = CAST(@key AS INTEGER)::oid AND objsubid = 2)
                """;
            command.Parameters.AddWithValue("class", Class);
            command.Parameters.AddWithValue("key", _key);
            return command.ExecuteScalar() is true;
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Takes the lock on a connection of its own: the same key again after a break, else a new random one.</summary>
    private void Acquire()
    {
        _connection?.Dispose();
        _connection = null;
#pragma warning disable CA2000 // Kept in _connection while it holds the lock (disposed by Dispose), else disposed in the catch below.
        var connection = new NpgsqlConnection(_ownConnectionString);
#pragma warning restore CA2000
        try
        {
            connection.Open();
            using (var keepalive = connection.CreateCommand())
            {
                // The server then ends this session within about 30 s of the host vanishing, which frees the lock.
                keepalive.CommandText = "SET tcp_keepalives_idle = 15; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3";
                keepalive.ExecuteNonQuery();
            }
            for (var attempt = 0; ; attempt++)
            {
                var key = _token is not null && attempt == 0 ? _key : RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT pg_try_advisory_lock(@class, @key)";
                command.Parameters.AddWithValue("class", Class);
                command.Parameters.AddWithValue("key", key);
                if (command.ExecuteScalar() is true)
                {
                    _key = key;
                    _token = Prefix + key.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    _connection = connection;
                    return;
                }
                if (attempt >= 10)
                    throw new InvalidOperationException("Could not take an operation lease (an advisory lock) on PostgreSQL after 10 attempts.");
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _connection?.Dispose();
            _connection = null;
        }
    }
}
