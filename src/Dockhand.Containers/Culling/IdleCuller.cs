using System.Collections.Concurrent;
using Dockhand.Containers.Engine;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers.Culling;

/// <summary>What one <see cref="IdleCuller.CheckAsync"/> pass did.</summary>
internal sealed record CullReport(int Running, int Stopped, int Destroyed);

/// <summary>
/// Idle culling (README "Idle culling"). A running container of this instance (its <c>dockhand.instance</c> label AND a
/// ready record naming it) is stopped, never destroyed, once for <see cref="ContainerOptions.IdleStopAfter"/> every
/// check found no terminal attached (<see cref="IContainerActivity"/>) and CPU below
/// <see cref="ContainerOptions.IdleCpuPercent"/> of one core. With <see cref="ContainerOptions.StoppedDestroyAfter"/>, a
/// container stopped (by anyone) at least that long ago by the engine's clock is destroyed, its home volume kept.
/// Every action goes through <see cref="ContainerService"/>: the owner's lock, the record's state, the audit log.
/// </summary>
/// <remarks>
/// "Idle since" lives in memory: after a restart of Dockhand the clock starts again, so a container is never stopped
/// early, only late. A container that restarted between two checks (its start time changed) starts a new idle period.
/// </remarks>
internal sealed partial class IdleCuller : IDisposable
{
    /// <summary>How many containers are sampled at once: each stats sample takes the engine about a second.</summary>
    private const int SampleConcurrency = 4;

    private static readonly TimeSpan LongestInterval = TimeSpan.FromMinutes(1);

    private readonly ContainerService _service;
    private readonly ContainerStore _store;
    private readonly IContainerRuntime _engine;
    private readonly IContainerActivity _activity;
    private readonly ContainerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<IdleCuller> _logger;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly Dictionary<string, IdleSince> _idle = new(StringComparer.Ordinal);
    private int _checks;

    public IdleCuller(ContainerService service, ContainerStore store, IContainerRuntime engine, IContainerActivity activity, ContainerOptions options, TimeProvider time, ILogger<IdleCuller> logger)
    {
        _service = service;
        _store = store;
        _engine = engine;
        _activity = activity;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Frees the lock that keeps two checks from overlapping; the container that made the culler calls it.</summary>
    public void Dispose() => _oneAtATime.Dispose();

    /// <summary>True when IDLE_STOP_AFTER or STOPPED_DESTROY_AFTER is set.</summary>
    public bool Enabled => _options.IdleStopAfter is not null || _options.StoppedDestroyAfter is not null;

    /// <summary>Time between checks: a quarter of the shorter setting, at most a minute.</summary>
    public TimeSpan Interval => IntervalFor(_options);

    /// <summary>Checks completed so far (tests wait on it).</summary>
    public int Checks => Volatile.Read(ref _checks);

    internal static TimeSpan IntervalFor(ContainerOptions options)
    {
        var shortest = new[] { options.IdleStopAfter, options.StoppedDestroyAfter }.Where(d => d is not null).Select(d => d!.Value).DefaultIfEmpty(LongestInterval * 4).Min();
        return TimeSpan.FromTicks(Math.Min(shortest.Ticks / 4, LongestInterval.Ticks));
    }

    /// <summary>
    /// One pass: samples every running container of this instance, stops those idle long enough, destroys those stopped
    /// long enough. Passes never overlap. Throws <see cref="EngineUnavailableException"/> when the engine cannot list.
    /// </summary>
    public async Task<CullReport> CheckAsync(CancellationToken cancellationToken = default)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        try
        {
            var report = await CheckHeldAsync(cancellationToken);
            Interlocked.Increment(ref _checks);
            return report;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private async Task<CullReport> CheckHeldAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var instance = await _store.GetInstanceIdAsync(cancellationToken);
        var records = new Dictionary<string, StoredRow>(StringComparer.Ordinal);
        foreach (var row in await _store.AllAsync(cancellationToken))
            if (row.State == RowState.Ready)
                records[row.ContainerId] = row;
        // Both marks of ownership: the instance label (the engine filters by it) and this database's record of the id.
        var ours = (await _engine.ListManagedAsync(new Dictionary<string, string> { [ContainerLabels.Instance] = instance }, cancellationToken))
            .Where(c => records.ContainsKey(c.Id)).ToList();
        var running = ours.Where(c => c.State == LiveState.Running).Select(c => c.Id).ToList();
        foreach (var forgotten in _idle.Keys.Except(running, StringComparer.Ordinal).ToList())
            _idle.Remove(forgotten);

        var stopped = 0;
        if (_options.IdleStopAfter is { } idleStopAfter)
        {
            var inUse = await _activity.ContainersInUseAsync(cancellationToken);
            var unattended = new List<string>();
            foreach (var id in running)
            {
                if (inUse.Contains(id))
                    _idle.Remove(id);
                else
                    unattended.Add(id);
            }
            var samples = new ConcurrentDictionary<string, EngineActivity?>(StringComparer.Ordinal);
            await Parallel.ForEachAsync(unattended, new ParallelOptions { MaxDegreeOfParallelism = SampleConcurrency, CancellationToken = cancellationToken },
                async (id, token) => samples[id] = await SampleAsync(id, token));
            foreach (var id in unattended)
            {
                // No sample, or no CPU figure in it, counts as busy: a container is stopped only on evidence.
                if (samples.GetValueOrDefault(id) is not { State: LiveState.Running, CpuPercent: { } cpu } sample || cpu >= _options.IdleCpuPercent)
                {
                    _idle.Remove(id);
                    continue;
                }
                if (!_idle.TryGetValue(id, out var since) || since.StartedAt != sample.StartedAt)
                    _idle[id] = since = new IdleSince(now, sample.StartedAt);
                if (now - since.Since < idleStopAfter)
                    continue;
                if (await TryAsync(id, "stop", () => _service.StopIdleAsync(records[id].Owner, id, idleStopAfter, async token => !(await _activity.ContainersInUseAsync(token)).Contains(id), cancellationToken)))
                {
                    stopped++;
                    _idle.Remove(id);
                }
            }
        }

        var destroyed = 0;
        if (_options.StoppedDestroyAfter is { } stoppedDestroyAfter)
        {
            foreach (var container in ours.Where(c => c.State == LiveState.Exited))
            {
                if (await TryAsync(container.Id, "destroy", () => _service.DestroyStoppedAsync(records[container.Id].Owner, container.Id, now - stoppedDestroyAfter, cancellationToken)))
                    destroyed++;
            }
        }
        return new CullReport(running.Count, stopped, destroyed);
    }

    private async Task<EngineActivity?> SampleAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            if (await _engine.InspectAsync(id, cancellationToken) is not { } container)
                return null;
            var cpu = container.State == LiveState.Running ? (await _engine.GetUsageAsync(id, cancellationToken)).CpuPercent : null;
            return new EngineActivity(container.State, container.StartedAt, container.FinishedAt, cpu);
        }
        catch (Exception e) when (e is EngineException)
        {
            LogSampleFailed(_logger, id, e.Message);
            return null;
        }
    }

    /// <summary>One container's action; a failure is logged and the pass goes on with the next container.</summary>
    private async Task<bool> TryAsync(string id, string action, Func<Task<bool>> act)
    {
        try
        {
            return await act();
        }
        catch (Exception e) when (e is EngineException)
        {
            LogActionFailed(_logger, action, id, e.Message);
            return false;
        }
    }

    /// <summary>When a container was first seen idle, and the start time it had then.</summary>
    private readonly record struct IdleSince(DateTimeOffset Since, DateTimeOffset? StartedAt);

    [LoggerMessage(EventId = 2072, Level = LogLevel.Warning, Message = "Idle culling could not sample container {ContainerId}: {Reason}; it counts as busy this time")]
    private static partial void LogSampleFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(EventId = 2073, Level = LogLevel.Warning, Message = "Idle culling could not {Action} container {ContainerId}: {Reason}; the next check tries again")]
    private static partial void LogActionFailed(ILogger logger, string action, string containerId, string reason);
}
