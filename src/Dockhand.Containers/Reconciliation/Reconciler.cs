using Dockhand.Containers.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers;

/// <summary>What one reconciliation pass did.</summary>
public sealed record ReconcileReport(int RolledBackCreates, int FinishedDestroys, int RemovedOrphans, int AdoptedOrphans, int MissingContainers);

/// <summary>
/// Brings records and the engine back in line, at start-up and after engine events.
/// <list type="bullet">
/// <item>A 'creating' row whose process is dead is rolled BACK: its labelled container (found by dockhand.op) is removed, then the row.</item>
/// <item>A 'destroying' row whose process is dead is rolled FORWARD: the container is removed, then the row.</item>
/// <item>A container with Dockhand's labels (and this instance's extra labels) that no row knows is an orphan:
///   <see cref="OrphanPolicy.Remove"/> (default) removes it; <see cref="OrphanPolicy.Adopt"/> records it when its labels name
///   an owner with no container and a free name, and removes it otherwise.</item>
/// <item>A ready row whose container is gone is left alone and shows as <see cref="LiveState.Missing"/>; the owner or an operator destroys it.</item>
/// </list>
/// Rows of a live process (this one included) are never touched, so several Dockhand processes can share the file.
/// </summary>
public sealed partial class Reconciler
{
    private readonly ContainerEngine _engine;
    private readonly ContainerStore _store;
    private readonly ContainerService _service;
    private readonly ContainerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<Reconciler> _logger;
    private readonly SemaphoreSlim _pass = new(1, 1);

    public Reconciler(ContainerEngine engine, ContainerStore store, ContainerService service, ContainerOptions options, TimeProvider time, ILogger<Reconciler> logger)
    {
        _engine = engine;
        _store = store;
        _service = service;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>One pass. Throws <see cref="EngineUnavailableException"/> when the engine cannot be reached.</summary>
    public async Task<ReconcileReport> ReconcileAsync(CancellationToken cancellationToken = default)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            return await PassAsync(cancellationToken);
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task<ReconcileReport> PassAsync(CancellationToken cancellationToken)
    {
        // Containers first, rows second: every create writes its row before its container, so a container seen here
        // has its row in the snapshot below unless that row was deleted in between (then the container is being removed too).
        var containers = await _engine.ListManagedAsync(null, cancellationToken);
        var rows = await _store.AllAsync(cancellationToken);
        int rolledBack = 0, finished = 0, removed = 0, adopted = 0, missing = 0;

        foreach (var row in rows.Where(r => r.State != RowState.Ready && !ContainerStore.IsProcessAlive(r.OperationProcess)))
        {
            if (row.State == RowState.Creating && row.OperationId is { } operation)
            {
                await _service.RollBackCreateAsync(row.Owner, operation, row.ContainerId);
                await _store.AppendAuditAsync(Actor.System, "reconcile", row.Owner, row.Name, row.ContainerId, "create-rolled-back", "the creating process died", cancellationToken);
                LogRolledBack(_logger, row.Owner.Value, row.Name);
                rolledBack++;
            }
            else if (row.State == RowState.Destroying)
            {
                if (!row.ContainerId.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
                    await _engine.RemoveAsync(row.ContainerId, cancellationToken);
                await _store.DeleteAsync(row.Owner, row.ContainerId, cancellationToken);
                await _store.AppendAuditAsync(Actor.System, "reconcile", row.Owner, row.Name, row.ContainerId, "destroy-finished", "the destroying process died", cancellationToken);
                LogFinishedDestroy(_logger, row.Owner.Value, row.Name);
                finished++;
            }
        }

        var knownIds = rows.Select(r => r.ContainerId).ToHashSet(StringComparer.Ordinal);
        var liveOperations = rows.Where(r => r.State == RowState.Creating && ContainerStore.IsProcessAlive(r.OperationProcess) && r.OperationId is not null)
            .Select(r => r.OperationId!).ToHashSet(StringComparer.Ordinal);
        foreach (var container in containers)
        {
            if (knownIds.Contains(container.Id))
                continue;
            if (container.Labels.TryGetValue(ContainerLabels.Operation, out var op) && liveOperations.Contains(op))
                continue;
            if (_options.OrphanPolicy == OrphanPolicy.Adopt
                && container.Labels.TryGetValue(ContainerLabels.Owner, out var ownerText) && OwnerId.TryParse(ownerText, out var owner)
                && container.Labels.TryGetValue(ContainerLabels.Name, out var name) && ContainerService.IsValidName(name)
                && await TryAdoptAsync(container, owner, name, cancellationToken))
            {
                adopted++;
                continue;
            }
            if (await _engine.RemoveAsync(container.Id, cancellationToken))
            {
                container.Labels.TryGetValue(ContainerLabels.Owner, out var orphanOwner);
                await _store.AppendAuditAsync(Actor.System, "reconcile", OwnerId.TryParse(orphanOwner, out var o) ? o : null, container.Name, container.Id, "orphan-removed", null, cancellationToken);
                LogOrphanRemoved(_logger, container.Id, container.Name);
                removed++;
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
        return new ReconcileReport(rolledBack, finished, removed, adopted, missing);
    }

    private async Task<bool> TryAdoptAsync(EngineContainer container, OwnerId owner, string name, CancellationToken cancellationToken)
    {
        var inspect = await _engine.Client.Containers.InspectContainerAsync(container.Id, cancellationToken);
        var created = new DateTimeOffset(DateTime.SpecifyKind(inspect.Created, DateTimeKind.Utc));
        if (!await _store.TryAdoptAsync(owner, name, container.Id, inspect.Config?.Image ?? "unknown", created, cancellationToken))
            return false;
        await _store.AppendAuditAsync(Actor.System, "reconcile", owner, name, container.Id, "orphan-adopted", null, cancellationToken);
        LogAdopted(_logger, container.Id, owner.Value, name);
        return true;
    }

    /// <summary>
    /// Runs until cancelled: a start-up pass, then a pass after each managed container's create or destroy event.
    /// When the engine goes away it retries with a growing delay (1 s to 30 s).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var report = await ReconcileAsync(cancellationToken);
                LogPass(_logger, report.RolledBackCreates, report.FinishedDestroys, report.RemovedOrphans, report.AdoptedOrphans, report.MissingContainers);
                delay = TimeSpan.FromSeconds(1);
                await _engine.MonitorAsync(async e =>
                {
                    if (e.Action is "create" or "destroy")
                    {
                        if (e.Action == "destroy")
                            await NoteRemovedAsync(e, cancellationToken);
                        await ReconcileAsync(cancellationToken);
                    }
                }, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Never let the background loop die (a BackgroundService failure stops the host): log in one line and retry.
                LogRetry(_logger, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", delay.TotalSeconds);
            }
            try
            {
                await Task.Delay(delay, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromSeconds(Math.Min(30, delay.TotalSeconds * 2));
        }
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

    [LoggerMessage(EventId = 2055, Level = LogLevel.Information, Message = "Reconciled: {RolledBack} creates rolled back, {Finished} destroys finished, {Removed} orphans removed, {Adopted} adopted, {Missing} missing")]
    private static partial void LogPass(ILogger logger, int rolledBack, int finished, int removed, int adopted, int missing);

    [LoggerMessage(EventId = 2056, Level = LogLevel.Warning, Message = "Reconciler paused ({Reason}); retrying in {Seconds} s")]
    private static partial void LogRetry(ILogger logger, string reason, double seconds);
}

/// <summary>Runs <see cref="Reconciler.RunAsync"/> for the life of the host.</summary>
internal sealed class ReconcilerService(Reconciler reconciler) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => reconciler.RunAsync(stoppingToken);
}
