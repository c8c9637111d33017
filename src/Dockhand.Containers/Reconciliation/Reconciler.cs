using System.Threading.Channels;
using Dockhand.Containers.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers;

/// <summary>What one reconciliation pass did.</summary>
/// <param name="StoppedOrphans">This instance's unrecorded containers that could not be adopted: stopped, kept and reported.</param>
/// <param name="ForeignContainers">Managed containers of other instances (or unlabelled and unrecorded here): counted, never touched.</param>
/// <param name="HeldBackRemovals">Removals this pass would have made but did not, because there were more than
/// <see cref="Reconciler.MassRemovalLimit"/> of them; 0 when the guard did not trip.</param>
public sealed record ReconcileReport(int RolledBackCreates, int FinishedDestroys, int RemovedOrphans, int AdoptedOrphans, int StoppedOrphans,
    int MissingContainers, int ForeignContainers, int HeldBackRemovals);

/// <summary>
/// Brings records and the engine in line, at start-up and after engine events. It acts only on what it can prove is
/// this instance's own (docs/containers.md, "What Dockhand may delete"):
/// <list type="bullet">
/// <item>A 'creating' row whose process is provably gone (<see cref="ContainerStore.IsOperationAlive"/>) is rolled BACK:
///   its container (by id, or by the row's random dockhand.op) and a home volume that operation made are removed, then the row.</item>
/// <item>A 'destroying' row whose process is gone is rolled FORWARD: the recorded container is removed, then the row.</item>
/// <item>A container with this instance's dockhand.instance label that no row knows is an orphan: adopted when its owner has
///   none and its name is free, otherwise stopped and reported; removed only under <see cref="OrphanPolicy.Remove"/>.</item>
/// <item>Everything else with Dockhand's labels is foreign (another instance's, or unlabelled and unrecorded here): counted only.</item>
/// <item>A ready row whose container is gone is left alone and shows as <see cref="LiveState.Missing"/>.</item>
/// <item>When one pass would remove more than <see cref="MassRemovalLimit"/> containers, it removes none and says why.</item>
/// </list>
/// Rows of a live process (this one included) are never touched, so several Dockhand processes can share the file.
/// </summary>
public sealed partial class Reconciler : IDisposable
{
    private static readonly TimeSpan EventReplayMargin = TimeSpan.FromSeconds(5);

    /// <summary>The most containers one pass may remove; more means something is wrong (a lost database, a wrong instance).</summary>
    public const int MassRemovalLimit = 3;

    private readonly IContainerRuntime _engine;
    private readonly ContainerStore _store;
    private readonly ContainerService _service;
    private readonly ContainerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<Reconciler> _logger;
    private readonly ContainerMetrics _metrics;
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly TaskCompletionSource _watching = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Set by events, cleared by the worker that acts on them (WatchEventsAsync).
    private int _passWanted;
    private (string Action, string ContainerId) _lastPassCause = ("", "");

    public Reconciler(IContainerRuntime engine, ContainerStore store, ContainerService service, ContainerOptions options, TimeProvider time, ILogger<Reconciler> logger, ContainerMetrics metrics)
    {
        _metrics = metrics;
        metrics.UseRecount(() => RecountAsync(CancellationToken.None));
        _engine = engine;
        _store = store;
        _service = service;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Frees the lock that keeps passes one at a time; the container that made the reconciler calls it.</summary>
    public void Dispose() => _pass.Dispose();

    /// <summary>One pass. Throws <see cref="EngineUnavailableException"/> when the engine cannot be reached.</summary>
    public Task<ReconcileReport> ReconcileAsync(CancellationToken cancellationToken = default) => PassOnceAsync(allowMassRemoval: false, cancellationToken);

    /// <summary>One pass without the mass-removal guard: the operator's <c>dockhand reconcile --allow-mass-removal</c>.</summary>
    public Task<ReconcileReport> ReconcileAllowingMassRemovalAsync(CancellationToken cancellationToken = default) => PassOnceAsync(allowMassRemoval: true, cancellationToken);

    private async Task<ReconcileReport> PassOnceAsync(bool allowMassRemoval, CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            return await PassAsync(allowMassRemoval, cancellationToken);
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task<ReconcileReport> PassAsync(bool allowMassRemoval, CancellationToken cancellationToken)
    {
        var instance = await _store.GetInstanceIdAsync(cancellationToken);
        // Containers first, rows second: every create writes its row before its container, so a container seen here
        // has its row in the snapshot below unless that row was deleted in between (then the container is being removed too).
        var containers = await _engine.ListManagedAsync(null, cancellationToken);
        var rows = await _store.AllAsync(cancellationToken);
        CountContainers(containers, rows);
        var recordedIds = rows.Select(r => r.ContainerId).ToHashSet(StringComparer.Ordinal);
        var foreign = containers.Where(c => ContainerService.IsForeign(c, instance, recordedIds)).ToList();
        var own = containers.Except(foreign).ToList();
        var ownIds = own.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);

        var dead = rows.Where(r => r.State != RowState.Ready && !_store.IsOperationAlive(r)).ToList();
        var creatingOperations = rows.Where(r => r.State == RowState.Creating && r.OperationId is not null).Select(r => r.OperationId!).ToHashSet(StringComparer.Ordinal);
        var orphans = own.Where(c => !recordedIds.Contains(c.Id)
            && !(c.Labels.TryGetValue(ContainerLabels.Operation, out var op) && creatingOperations.Contains(op))).ToList();

        // What this pass would remove from the engine, counted before anything is done.
        var removals = dead.Count(r => r.State == RowState.Creating
                ? own.Any(c => c.Id == r.ContainerId || c.Labels.TryGetValue(ContainerLabels.Operation, out var op) && op == r.OperationId)
                : ownIds.Contains(r.ContainerId))
            + (_options.OrphanPolicy == OrphanPolicy.Remove ? orphans.Count : 0);
        var guarded = removals > MassRemovalLimit && !allowMassRemoval;
        if (guarded)
        {
            LogMassRemovalHeld(_logger, removals, MassRemovalLimit);
            await _store.AppendAuditAsync(Actor.System, "reconcile", null, null, null, "mass-removal-held",
                $"{removals} removals held back (limit {MassRemovalLimit}); check DATABASE_PATH and the instance id, then run `dockhand reconcile --allow-mass-removal`", cancellationToken);
        }

        int rolledBack = 0, finished = 0, removed = 0, adopted = 0, stopped = 0, missing = 0;
        foreach (var row in guarded ? [] : dead)
        {
            if (row.State == RowState.Creating && row.OperationId is { } operation)
            {
                await _service.RollBackCreateAsync(row.Owner, operation, row.ContainerId);
                await _store.AppendAuditAsync(Actor.System, "reconcile", row.Owner, row.Name, row.ContainerId, "create-rolled-back", "the creating process is gone", cancellationToken);
                LogRolledBack(_logger, row.Owner.Value, row.Name);
                rolledBack++;
            }
            else if (row.State == RowState.Destroying)
            {
                if (!row.ContainerId.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
                    await _engine.RemoveAsync(row.ContainerId, cancellationToken);
                await _store.DeleteAsync(row.Owner, row.ContainerId, cancellationToken);
                await _store.AppendAuditAsync(Actor.System, "reconcile", row.Owner, row.Name, row.ContainerId, "destroy-finished", "the destroying process is gone", cancellationToken);
                LogFinishedDestroy(_logger, row.Owner.Value, row.Name);
                finished++;
            }
        }

        foreach (var container in orphans)
        {
            container.Labels.TryGetValue(ContainerLabels.Owner, out var ownerText);
            OwnerId? owner = OwnerId.TryParse(ownerText, out var parsed) ? parsed : null;
            if (_options.OrphanPolicy == OrphanPolicy.Remove)
            {
                if (!guarded && await _engine.RemoveAsync(container.Id, cancellationToken))
                {
                    await _store.AppendAuditAsync(Actor.System, "reconcile", owner, container.Name, container.Id, "orphan-removed", "ORPHAN_POLICY=remove", cancellationToken);
                    LogOrphanRemoved(_logger, container.Id, container.Name);
                    removed++;
                }
                continue;
            }
            if (owner is { } o && container.Labels.TryGetValue(ContainerLabels.Name, out var name) && ContainerService.IsValidName(name)
                && await TryAdoptAsync(container, o, name, cancellationToken))
            {
                adopted++;
                continue;
            }
            stopped++;
            if (container.State is LiveState.Running or LiveState.Restarting or LiveState.Paused)
            {
                await _engine.StopAsync(container.Id, cancellationToken);
                await _store.AppendAuditAsync(Actor.System, "reconcile", owner, container.Name, container.Id, "orphan-stopped",
                    "unrecorded, and its owner already has a container or its name is taken; kept for an operator", cancellationToken);
                LogOrphanStopped(_logger, container.Id, container.Name);
            }
        }

        var liveIds = containers.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var row in rows.Where(r => r.State == RowState.Ready && !liveIds.Contains(r.ContainerId)))
        {
            if (await _engine.InspectAsync(row.ContainerId, cancellationToken) is null)
            {
                LogMissing(_logger, row.Owner.Value, row.Name, row.ContainerId);
                missing++;
            }
        }
        return new ReconcileReport(rolledBack, finished, removed, adopted, stopped, missing, foreign.Count, guarded ? removals : 0);
    }

    private async Task RecountAsync(CancellationToken cancellationToken) =>
        CountContainers(await _engine.ListManagedAsync(null, cancellationToken), await _store.AllAsync(cancellationToken));

    /// <summary>Gives <see cref="ContainerMetrics"/> the records by state, from one engine list and one read of the rows.</summary>
    private void CountContainers(IReadOnlyList<EngineContainer> containers, IReadOnlyList<StoredRow> rows)
    {
        var live = containers.ToDictionary(c => c.Id, c => c.State, StringComparer.Ordinal);
        _metrics.SetContainers(rows.Select(r => r.State switch
        {
            RowState.Creating => "creating",
            RowState.Destroying => "destroying",
            // A record made before Dockhand's labels is not in the labelled list: counted as missing (one list, no inspect per record).
            _ => (live.TryGetValue(r.ContainerId, out var state) ? state : LiveState.Missing).ToString().ToLowerInvariant(),
        }));
    }

    private async Task<bool> TryAdoptAsync(EngineContainer container, OwnerId owner, string name, CancellationToken cancellationToken)
    {
        // Removed since the list: not adopted (the next event's pass sees it gone).
        if (await _engine.InspectAsync(container.Id, cancellationToken) is not { } inspect)
            return false;
        if (!await _store.TryAdoptAsync(owner, name, container.Id, inspect.Image ?? "unknown", inspect.CreatedAt ?? _time.GetUtcNow(), cancellationToken))
            return false;
        await _store.AppendAuditAsync(Actor.System, "reconcile", owner, name, container.Id, "orphan-adopted", null, cancellationToken);
        LogAdopted(_logger, container.Id, owner.Value, name);
        return true;
    }

    /// <summary>
    /// Completes once <see cref="RunAsync"/> has made its start-up pass and asked for the event stream. The stream starts
    /// before that pass (the engine replays events since then), so nothing that happens after this completes is missed.
    /// </summary>
    public Task WatchingEvents => _watching.Task;

    /// <summary>
    /// Runs until cancelled: a start-up pass, then a pass after managed containers' create or destroy events (coalesced,
    /// and none for a create still in flight; see <see cref="WatchEventsAsync"/>).
    /// When the engine goes away it retries with a growing delay (1 s to 30 s).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Events are asked for from a little before the pass, so a create between the pass and the subscription is
                // still seen; replaying a few extra events only costs a few extra passes. The margin covers clock skew.
                var since = _time.GetUtcNow() - EventReplayMargin;
                var report = await ReconcileAsync(cancellationToken);
                LogPass(_logger, report.RolledBackCreates, report.FinishedDestroys, report.RemovedOrphans, report.AdoptedOrphans, report.StoppedOrphans, report.MissingContainers, report.ForeignContainers);
                backoff.Reset();
                var scope = new Dictionary<string, string> { [ContainerLabels.Instance] = await _store.GetInstanceIdAsync(cancellationToken) };
                await WatchEventsAsync(scope, since, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Never let the background loop die (a BackgroundService failure stops the host): log in one line and retry.
                LogRetry(_logger, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", backoff.Current.TotalSeconds);
            }
            try
            {
                await Task.Delay(backoff.Next(), _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Follows the event stream until it ends or fails. Events only note what they ask for (a pass, or a recount of the
    /// gauge); one worker does that work, so a burst of events (a create storm, or events replayed from before the
    /// start-up pass) costs one pass after the one running, not one pass each. Events of a create this process or
    /// another live one is still making ask for nothing: their operation finishes or rolls back its own row, and its
    /// service recounts when it is done (a pass or a count in the middle would only compete with the create's start).
    /// </summary>
    private async Task WatchEventsAsync(IReadOnlyDictionary<string, string> scope, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var wake = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var worker = WorkOnEventsAsync(wake.Reader, stop.Token);
        var watching = _engine.MonitorAsync(scope, since, async e =>
        {
            if (e.Action == "destroy")
                await NoteRemovedAsync(e, stop.Token);
            if (e.Action is not ("create" or "destroy" or "start" or "die" or "pause" or "unpause"))
                return;
            if (await IsAccountedForAsync(e, stop.Token))
            {
                LogNoPass(_logger, e.Action, e.ContainerId);
            }
            else
            {
                // A create or destroy may leave something to reconcile; the others only change the gauge's counts.
                if (e.Action is "create" or "destroy")
                {
                    _lastPassCause = (e.Action, e.ContainerId);
                    Volatile.Write(ref _passWanted, 1);
                    wake.Writer.TryWrite(0);
                }
                else
                {
                    _metrics.RequestRecount();
                }
            }
        }, stop.Token);
        _watching.TrySetResult();
        var first = await Task.WhenAny(watching, worker);
        await stop.CancelAsync();
        try
        {
            await Task.WhenAll(watching, worker);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The one that ended first stopped the other; its own outcome is what counts (below).
        }
        await first;
    }

    /// <summary>Runs the passes the events asked for, one at a time (a pass also recounts). The events that only change the
    /// gauge's counts ask <see cref="ContainerMetrics.RequestRecount"/>, which shares one count with the operations' own requests.</summary>
    private async Task WorkOnEventsAsync(ChannelReader<byte> wake, CancellationToken cancellationToken)
    {
        while (await wake.WaitToReadAsync(cancellationToken))
        {
            wake.TryRead(out _);
            if (Interlocked.Exchange(ref _passWanted, 0) == 1)
            {
                var (action, containerId) = _lastPassCause;
                var after = await ReconcileAsync(cancellationToken);
                LogEventPass(_logger, action, containerId, after.RolledBackCreates, after.FinishedDestroys, after.RemovedOrphans, after.AdoptedOrphans, after.StoppedOrphans);
            }
        }
    }

    /// <summary>
    /// Whether the event changes nothing a pass or a recount would see differently: it is about a container that a live
    /// create (of this process or another) is still making (its owner's row is 'creating' under the operation the
    /// container is labelled with, and that operation's process is alive), or it is the create event of a container
    /// its owner's row already records as ready (the event came after the create finished).
    /// </summary>
    private async Task<bool> IsAccountedForAsync(EngineEvent e, CancellationToken cancellationToken)
    {
        if (e.Action == "destroy" || !e.Labels.TryGetValue(ContainerLabels.Operation, out var operation)
            || !e.Labels.TryGetValue(ContainerLabels.Owner, out var ownerText) || !OwnerId.TryParse(ownerText, out var owner))
            return false;
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is { State: RowState.Creating } && row.OperationId == operation)
        {
            if (_store.IsOperationAlive(row))
                return true;
            // The create may have finished (and given up its lease) between the read and the liveness check: read again.
            row = await _store.FindAsync(owner, cancellationToken);
        }
        return e.Action == "create" && row is { State: RowState.Ready } && row.ContainerId == e.ContainerId;
    }

    private async Task NoteRemovedAsync(EngineEvent e, CancellationToken cancellationToken)
    {
        if (!e.Labels.TryGetValue(ContainerLabels.Owner, out var ownerText) || !OwnerId.TryParse(ownerText, out var owner))
            return;
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is { State: RowState.Ready } && row.ContainerId == e.ContainerId)
        {
            await _store.AppendAuditAsync(Actor.System, "reconcile", owner, row.Name, row.ContainerId, "missing", "removed outside Dockhand", cancellationToken);
            LogMissing(_logger, owner.Value, row.Name, row.ContainerId);
        }
    }

    [LoggerMessage(EventId = 2050, Level = LogLevel.Warning, Message = "Rolled back an unfinished create of {Name} for owner {Owner}")]
    private static partial void LogRolledBack(ILogger logger, ulong owner, string name);

    [LoggerMessage(EventId = 2051, Level = LogLevel.Warning, Message = "Finished an interrupted destroy of {Name} for owner {Owner}")]
    private static partial void LogFinishedDestroy(ILogger logger, ulong owner, string name);

    [LoggerMessage(EventId = 2052, Level = LogLevel.Warning, Message = "Removed orphan container {ContainerId} ({Name}): labelled but unrecorded")]
    private static partial void LogOrphanRemoved(ILogger logger, string containerId, string name);

    [LoggerMessage(EventId = 2053, Level = LogLevel.Warning, Message = "Adopted orphan container {ContainerId} as {Name} for owner {Owner}")]
    private static partial void LogAdopted(ILogger logger, string containerId, ulong owner, string name);

    [LoggerMessage(EventId = 2054, Level = LogLevel.Warning, Message = "Container {Name} ({ContainerId}) of owner {Owner} is missing from the engine")]
    private static partial void LogMissing(ILogger logger, ulong owner, string name, string containerId);

    [LoggerMessage(EventId = 2055, Level = LogLevel.Information, Message = "Reconciled: {RolledBack} creates rolled back, {Finished} destroys finished, {Removed} orphans removed, {Adopted} adopted, {Stopped} stopped and kept, {Missing} missing, {Foreign} of other instances left alone")]
    private static partial void LogPass(ILogger logger, int rolledBack, int finished, int removed, int adopted, int stopped, int missing, int foreign);

    [LoggerMessage(EventId = 2059, Level = LogLevel.Debug, Message = "Reconciled after {Action} of {ContainerId}: {RolledBack} creates rolled back, {Finished} destroys finished, {Removed} orphans removed, {Adopted} adopted, {Stopped} stopped")]
    private static partial void LogEventPass(ILogger logger, string action, string containerId, int rolledBack, int finished, int removed, int adopted, int stopped);

    [LoggerMessage(EventId = 2064, Level = LogLevel.Debug, Message = "No pass after {Action} of {ContainerId}: its create is in flight or already recorded")]
    private static partial void LogNoPass(ILogger logger, string action, string containerId);

    [LoggerMessage(EventId = 2057, Level = LogLevel.Warning, Message = "Orphan container {ContainerId} ({Name}) stopped and kept: labelled by this instance but unrecorded, and it could not be adopted")]
    private static partial void LogOrphanStopped(ILogger logger, string containerId, string name);

    [LoggerMessage(EventId = 2058, Level = LogLevel.Error, Message = "Reconciliation would remove {Count} containers (more than {Limit}); removed none. Check DATABASE_PATH and the instance id, then run `dockhand reconcile --allow-mass-removal` if they are right")]
    private static partial void LogMassRemovalHeld(ILogger logger, int count, int limit);

    [LoggerMessage(EventId = 2056, Level = LogLevel.Warning, Message = "Reconciler paused ({Reason}); retrying in {Seconds} s")]
    private static partial void LogRetry(ILogger logger, string reason, double seconds);
}

/// <summary>Runs <see cref="Reconciler.RunAsync"/> for the life of the host.</summary>
/// <summary>Runs the reconciler while this process leads (<see cref="Storage.InstanceLeadership"/>): one reconciler per instance.</summary>
internal sealed class ReconcilerService(Reconciler reconciler, Storage.InstanceLeadership leadership) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => leadership.WhileLeadingAsync(reconciler.RunAsync, stoppingToken);
}
