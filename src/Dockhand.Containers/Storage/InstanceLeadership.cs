using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Dockhand.Containers.Storage;

/// <summary>
/// Which process does the once-per-instance work (the gateway connection, the reconciler, the idle culler) when
/// several share one database. On PostgreSQL the leader holds a session-level advisory lock on a connection of its own;
/// the others try for it every <see cref="RetryInterval"/>. A leader's term ends when the lock is lost: the process ends
/// (the server sees its socket close and frees the lock at once), or its connection breaks. On SQLite (one host, one
/// process) this process always leads.
/// </summary>
/// <remarks>
/// What bounds a takeover: after a crash or SIGKILL the kernel closes the leader's socket, so the server frees the lock
/// at once and a standby has it within <see cref="RetryInterval"/>. When the leader's host vanishes without closing
/// anything, the server's TCP keepalives on the lock's session (set below: idle 2 s, then 3 probes 1 s apart) end it
/// within about 5 s. The leader itself checks its session every <see cref="CheckInterval"/> with a
/// <see cref="CheckTimeout"/>: a leader cut off from the server ends its own term within about 3 s, before the server
/// hands the lock to another (about 5 s), so two leaders do not overlap in practice.
/// </remarks>
public sealed partial class InstanceLeadership : IDisposable
{
    /// <summary>The first key of the leader lock (the second is 1): "dkld", apart from the operation leases' class.</summary>
    internal const int LockClass = 0x646b6c64;

    public static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(2);

    private readonly string? _connectionString;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private TaskCompletionSource<CancellationToken> _turn = NewTurn();
    private CancellationTokenSource? _term;

    public InstanceLeadership(DockhandDatabase database, TimeProvider time, ILogger<InstanceLeadership> logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        _connectionString = database.Dialect.OwnSessionConnectionString;
        _time = time;
        _logger = logger;
        if (_connectionString is null)
            BeginTerm();
    }

    /// <summary>True while this process leads.</summary>
    public bool IsLeader
    {
        get
        {
            lock (_gate)
                return _term is { IsCancellationRequested: false };
        }
    }

    /// <summary>Completes when this process leads; the token it returns is cancelled when that term ends.</summary>
    public Task<CancellationToken> WaitForTermAsync(CancellationToken cancellationToken = default)
    {
        Task<CancellationToken> turn;
        lock (_gate)
            turn = _turn.Task;
        return turn.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> during each of this process's terms, cancelled when the term ends, until
    /// <paramref name="cancellationToken"/> is cancelled. For the loops that must run once per instance.
    /// </summary>
    public async Task WhileLeadingAsync(Func<CancellationToken, Task> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        while (!cancellationToken.IsCancellationRequested)
        {
            CancellationToken term;
            try
            {
                term = await WaitForTermAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            using var during = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, term);
            try
            {
                await work(during.Token);
            }
            catch (OperationCanceledException) when (during.IsCancellationRequested)
            {
            }
            if (!term.IsCancellationRequested)
                return; // the work ended by itself (off, or the host is stopping)
        }
    }

    /// <summary>Tries for the lock until it holds it, holds it while the session lives, and again; until cancelled.</summary>
    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_connectionString is null)
            return;
        var waitingLogged = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                waitingLogged = await HoldOnceAsync(waitingLogged, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.IO.IOException or TimeoutException)
            {
                if (EndTerm())
                    LogLost(_logger, e.Message);
                else
                    LogUnreachable(_logger, e.Message);
                try
                {
                    await Task.Delay(RetryInterval, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }
            }
            finally
            {
                EndTerm();
            }
        }
    }

    /// <summary>One session: tries for the lock until it holds it, then checks the session until it breaks (throws).</summary>
    private async Task<bool> HoldOnceAsync(bool waitingLogged, CancellationToken cancellationToken)
    {
        // Closing this connection (or the process ending) ends the session, which frees the lock.
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var keepalive = connection.CreateCommand())
        {
            keepalive.CommandText = "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3";
            await keepalive.ExecuteNonQueryAsync(cancellationToken);
        }
        while (!await TryLockAsync(connection, cancellationToken))
        {
            if (!waitingLogged)
            {
                LogStandby(_logger);
                waitingLogged = true;
            }
            await Task.Delay(RetryInterval, _time, cancellationToken);
        }
        LogLeading(_logger);
        BeginTerm();
        using var timer = new PeriodicTimer(CheckInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            await using var check = connection.CreateCommand();
            check.CommandText = "SELECT 1";
            check.CommandTimeout = (int)CheckTimeout.TotalSeconds;
            await check.ExecuteScalarAsync(cancellationToken);
        }
        return false;
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT pg_try_advisory_lock(@class, 1)";
        command.Parameters.AddWithValue("class", LockClass);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    private static TaskCompletionSource<CancellationToken> NewTurn() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void BeginTerm()
    {
        lock (_gate)
        {
            _term = new CancellationTokenSource();
            _turn.TrySetResult(_term.Token);
        }
    }

    /// <summary>Ends the current term, if any: its token is cancelled and the next wait waits for a new one. True when one ended.</summary>
    private bool EndTerm()
    {
        CancellationTokenSource? ended;
        lock (_gate)
        {
            if (_term is null)
                return false;
            ended = _term;
            _term = null;
            _turn = NewTurn();
        }
        ended.Cancel();
        ended.Dispose();
        return true;
    }

    public void Dispose() => EndTerm();

    [LoggerMessage(EventId = 2090, Level = LogLevel.Information, Message = "Another Dockhand process leads (gateway, reconciler, idle culler); this one serves HTTP and terminals and stands by")]
    private static partial void LogStandby(ILogger logger);

    [LoggerMessage(EventId = 2091, Level = LogLevel.Information, Message = "This process now leads: it holds the gateway and runs the reconciler and the idle culler")]
    private static partial void LogLeading(ILogger logger);

    [LoggerMessage(EventId = 2092, Level = LogLevel.Warning, Message = "This process no longer leads (its database session broke: {Reason}); standing by")]
    private static partial void LogLost(ILogger logger, string reason);

    [LoggerMessage(EventId = 2093, Level = LogLevel.Warning, Message = "Could not reach the database to try for the leader lock ({Reason}); trying again")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}

/// <summary>Runs <see cref="InstanceLeadership.RunAsync"/> for the host's lifetime.</summary>
internal sealed class InstanceLeadershipService(InstanceLeadership leadership) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => leadership.RunAsync(stoppingToken);
}
