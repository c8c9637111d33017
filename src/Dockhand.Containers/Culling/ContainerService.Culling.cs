using System.Globalization;
using System.Text.RegularExpressions;
using Dockhand.Containers.Culling;
using Dockhand.Containers.Engine;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers;

/// <summary>
/// The operations idle culling (<see cref="IdleCuller"/>) performs, kept here so they follow the same rules as every other
/// operation: the owner's lock, a ready record that still names the same container, and an audit row.
/// </summary>
public sealed partial class ContainerService
{
    /// <summary>Audit action (and <c>dockhand_operations_total</c> operation) of an idle stop.</summary>
    public const string IdleStopOperation = "idle_stop";

    /// <summary>Audit action (and operation) of a destroy of a container that stayed stopped for STOPPED_DESTROY_AFTER.</summary>
    public const string StoppedDestroyOperation = "stopped_destroy";

    /// <summary>Who idle culling acts as in the audit log.</summary>
    public static Actor CullingActor { get; } = new("dockhand:idle");

    /// <summary>Audit actions that change whether the container runs: the newest of these says why it is stopped.</summary>
    private static readonly HashSet<string> RunStateActions = new(StringComparer.Ordinal) { "create", "start", "stop", "restart", IdleStopOperation };

    /// <summary>
    /// Stops the owner's container <paramref name="containerId"/> (never removes it) when its record is ready and still
    /// names it, the engine says it runs, and <paramref name="stillIdle"/> (asked last, under the owner's lock) agrees.
    /// Audited as <see cref="IdleStopOperation"/>. False when any of that does not hold. Throws <see cref="EngineUnavailableException"/>.
    /// </summary>
    internal async Task<bool> StopIdleAsync(OwnerId owner, string containerId, TimeSpan idleFor, Func<CancellationToken, ValueTask<bool>> stillIdle, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(owner, cancellationToken);
        if (held is null)
            return false;
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is not { State: RowState.Ready } || row.ContainerId != containerId)
            return false;
        if (await _engine.InspectAsync(containerId, cancellationToken) is not { State: LiveState.Running } || !await stillIdle(cancellationToken))
            return false;
        try
        {
            await _engine.StopAsync(containerId, cancellationToken);
        }
        catch (EngineRefusedException e)
        {
            var reason = EngineRefusal(e);
            await AuditAsync(CullingActor, IdleStopOperation, owner, row.Name, containerId, "refused", AuditText(reason), CancellationToken.None);
            return false;
        }
        await AuditAsync(CullingActor, IdleStopOperation, owner, row.Name, containerId, "stopped", IdleStopDetail(idleFor, _options.IdleCpuPercent), CancellationToken.None);
        LogIdleStopped(_logger, owner.Value, row.Name, containerId, idleFor);
        return true;
    }

    /// <summary>
    /// Destroys the owner's container <paramref name="containerId"/> through the same steps as <see cref="DestroyAsync"/>
    /// (crash-safe, audited as <see cref="StoppedDestroyOperation"/>), keeping the home volume, when its record is ready
    /// and still names it and the engine says it has been stopped since <paramref name="stoppedBefore"/> or earlier.
    /// </summary>
    internal async Task<bool> DestroyStoppedAsync(OwnerId owner, string containerId, DateTimeOffset stoppedBefore, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(owner, cancellationToken);
        if (held is null)
            return false;
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is not { State: RowState.Ready } || row.ContainerId != containerId)
            return false;
        if (await _engine.InspectAsync(containerId, cancellationToken) is not { State: LiveState.Exited, FinishedAt: { } finished } || finished > stoppedBefore)
            return false;
        var result = await DestroyHeldAsync(owner, CullingActor, purge: false, StoppedDestroyOperation, cancellationToken);
        if (result is not DestroyResult.Destroyed)
            return false;
        LogStoppedDestroyed(_logger, owner.Value, row.Name, containerId, finished);
        return true;
    }

    /// <summary>
    /// /terminal's first step: when the owner's container is stopped because idle culling stopped it, starts it again
    /// (audited as a start by <paramref name="actor"/>). Returns the idle time it had been stopped after ("8h"), or null
    /// when it was not idle-stopped or did not start (the link request that follows then says why).
    /// </summary>
    public async Task<string?> StartIfIdleStoppedAsync(OwnerId owner, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is not { State: RowState.Ready })
            return null;
        try
        {
            if (await _engine.InspectAsync(row.ContainerId, cancellationToken) is not { State: LiveState.Exited })
                return null;
        }
        catch (Exception e) when (e is EngineException)
        {
            return null;
        }
        if (await IdleStoppedAfterAsync(row.ToRecord(), cancellationToken) is not { } after)
            return null;
        return await ApplyAsync(owner, LifecycleAction.Start, actor, cancellationToken) is StatusResult.Found { Status.State: LiveState.Running } ? after : null;
    }

    /// <summary>Adds <see cref="ContainerStatus.StoppedIdleAfter"/> to a stopped container's status when idle culling stopped it.</summary>
    private async Task<ContainerStatus> WithIdleStopAsync(ContainerStatus status, CancellationToken cancellationToken)
        => status.State == LiveState.Exited && await IdleStoppedAfterAsync(status.Record, cancellationToken) is { } after
            ? status with { StoppedIdleAfter = after }
            : status;

    /// <summary>
    /// The idle time written by the newest run-state change of this container when that change was an idle stop; null
    /// otherwise. Read from the audit log (the newest 50 entries of the owner), which records every such change.
    /// </summary>
    private async Task<string?> IdleStoppedAfterAsync(ContainerRecord record, CancellationToken cancellationToken)
    {
        var entries = await _store.ReadAuditAsync(record.Owner, limit: 50, cancellationToken);
        var last = entries.FirstOrDefault(e => e.ContainerId == record.ContainerId && e.Outcome != "refused" && RunStateActions.Contains(e.Action));
        return last is { Action: IdleStopOperation } && IdleStopDetailPattern().Match(last.Detail ?? "") is { Success: true } match
            ? match.Groups["after"].Value
            : null;
    }

    internal static string IdleStopDetail(TimeSpan idleFor, double cpuPercent)
        => $"after {DurationText.Format(idleFor)} idle (CPU below {cpuPercent.ToString("0.##", CultureInfo.InvariantCulture)}% of one core, no terminal attached)";

    [GeneratedRegex(@"^after (?<after>\S+) idle")]
    private static partial Regex IdleStopDetailPattern();

    [LoggerMessage(EventId = 2070, Level = LogLevel.Information, Message = "Stopped container {Name} ({ContainerId}) of owner {Owner} after {IdleFor} idle")]
    private static partial void LogIdleStopped(ILogger logger, ulong owner, string name, string containerId, TimeSpan idleFor);

    [LoggerMessage(EventId = 2071, Level = LogLevel.Information, Message = "Destroyed container {Name} ({ContainerId}) of owner {Owner}, stopped since {StoppedAt:u}; home volume kept")]
    private static partial void LogStoppedDestroyed(ILogger logger, ulong owner, string name, string containerId, DateTimeOffset stoppedAt);
}
