using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Dockhand.Containers.Engine;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers;

/// <summary>
/// The rules: one container per owner, valid unique names, hardened defaults, idempotent destroy.
/// Every method answers with a result record; exceptions mean a bug or broken infrastructure
/// (<see cref="ListAsync"/> throws <see cref="EngineUnavailableException"/> when the engine cannot be reached).
/// </summary>
/// <remarks>
/// Crash safety (docs/containers.md): create writes an intent row ('creating', with an operation id) BEFORE asking
/// the engine, labels the container with that operation id, and marks the row 'ready' only after the container runs.
/// Destroy marks the row 'destroying', removes the container, then deletes the row. A process killed at any step
/// leaves a row whose operation_process is dead; <see cref="Reconciler"/> rolls such creates back and finishes such
/// destroys. Within a process a per-owner lock serialises operations; across processes the primary key on the
/// owner and IMMEDIATE transactions do.
/// </remarks>
public sealed partial class ContainerService
{
    public const int MaxNameLength = 63;
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

    private readonly ContainerOptions _options;
    private readonly IContainerRuntime _engine;
    private readonly ContainerStore _store;
    private readonly ILogger<ContainerService> _logger;
    private readonly ContainerMetrics _metrics;
    private readonly ConcurrentDictionary<OwnerId, SemaphoreSlim> _locks = new();
    private DiskLimitSupport? _diskLimitSupport;

    public ContainerService(ContainerOptions options, IContainerRuntime engine, ContainerStore store, ILogger<ContainerService> logger, ContainerMetrics metrics)
    {
        _options = options;
        _engine = engine;
        _store = store;
        _logger = logger;
        _metrics = metrics;
    }

    public ContainerOptions Options => _options;

    public static bool IsValidName(string? name) => name is { Length: > 0 and <= MaxNameLength } && NamePattern().IsMatch(name);

    /// <summary>
    /// Creates and starts the owner's one container, in named steps: <see cref="CheckRequest"/>, the owner's lock, the
    /// intent row (<see cref="InsertIntentAsync"/>) beside the engine's checks (<see cref="IContainerRuntime.ImageExistsAsync"/>,
    /// <see cref="PrepareEngineAsync"/>: disk limit, network), the caller's go-ahead, a pull when the image is missing, then
    /// <see cref="MakeContainerAsync"/> (home volume, create, the id on the row beside the start, mark ready). Anything
    /// after the intent row is rolled back on failure. The first refusal ends it, audited and logged.
    /// </summary>
    /// <param name="goAhead">
    /// No image is pulled and nothing of the owner's is made in the engine until this completes (the caller's
    /// acknowledgement to whoever asked, sent while the checks run); only the instance's own network, shared and kept,
    /// may be made before it. When it fails, the intent row is deleted and its exception is thrown; a refusal found by
    /// the checks is returned without waiting for it.
    /// </param>
    public async Task<CreateResult> CreateAsync(CreateRequest request, IProgress<PullProgress>? progress = null, Task? goAhead = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = Stopwatch.GetTimestamp();
        var image = string.IsNullOrWhiteSpace(request.Image) ? _options.DefaultImage : request.Image.Trim();
        if (CheckRequest(request, image) is { } invalid)
            return await RefuseCreateAsync(request, image, invalid, cancellationToken);

        using var held = await LockAsync(request.Owner, cancellationToken);
        if (held is null)
            return await RefuseCreateAsync(request, image, new Refusals.Busy(request.Owner), cancellationToken);

        // The intent row and the engine's read-only questions are independent: asked at once, they cost one round trip
        // of the hot path instead of three. The engine's go out first: SQLite does its work on the calling thread, so
        // the row is written while the engine answers. A pull (slow, and pointless for an owner who is refused) waits for the row.
        var instance = await _store.GetInstanceIdAsync(cancellationToken);
        var operation = Guid.NewGuid().ToString("N");
        var imagePresent = ImagePresentAsync(image, cancellationToken);
        var prepared = PrepareEngineAsync(instance, cancellationToken);
        var intent = InsertIntentAsync(request, image, operation, cancellationToken);
        try
        {
            await Task.WhenAll(intent, imagePresent, prepared);
        }
        catch
        {
            // A store failure or a cancellation (the only kinds these throw): a row that was written goes again. An
            // insert that threw may still have committed (a connection lost after the commit), so only a refusal,
            // which wrote nothing, skips the delete; the operation id is this call's own, so nothing else can match.
            if (!intent.IsCompletedSuccessfully || intent.Result.Refusal is null)
                await DeleteIntentOrGiveUpAsync(request.Owner, operation);
            throw;
        }
        var (createdAt, notAllowed) = await intent;
        if (notAllowed is not null)
            return await RefuseCreateAsync(request, image, notAllowed, cancellationToken);
        FaultInjection.Point(FaultInjection.Steps.CreateAfterIntent);

        var (present, imageRefusal) = await imagePresent;
        var (network, unprepared) = await prepared;
        var refused = imageRefusal ?? unprepared;
        var ready = false;
        try
        {
            // Neither a pull nor anything else in the engine before the caller's go-ahead; a refusal does not wait for it.
            if (refused is null && goAhead is not null)
                await goAhead;
            if (refused is null && !present)
                refused = await PullAsync(image, progress, cancellationToken);
            ready = refused is null;
        }
        finally
        {
            // Refused, cancelled or failed before anything was made: the row goes again.
            if (!ready)
                await DeleteIntentOrGiveUpAsync(request.Owner, operation);
        }
        if (refused is not null)
            return await RefuseCreateAsync(request, image, refused, cancellationToken);

        var (containerId, homeRestored, live, notMade) = await MakeContainerAsync(request, image, instance, network, operation, cancellationToken);
        if (notMade is not null)
            return await RefuseCreateAsync(request, image, notMade, cancellationToken);

        // The container runs and its record is ready: from here on the owner is told it was created, whatever the audit
        // row or the status's inspect do (a failure of either is logged, not reported as a failed create).
        try
        {
            var record = new ContainerRecord(request.Owner, request.Name, containerId!, image, createdAt);
            try
            {
                await AuditAsync(request.Actor, "create", request.Owner, request.Name, containerId, "created", homeRestored ? $"{image}; kept home mounted again" : image,
                    CancellationToken.None, recount: false);
            }
            catch (DbException e)
            {
                LogCreatedNotAudited(_logger, e, request.Owner.Value, containerId!);
            }
            LogCreated(_logger, request.Owner.Value, request.Name, containerId!);
            _metrics.Created(Stopwatch.GetElapsedTime(started));
            return new CreateResult.Created(await StatusAfterStartAsync(record, live!), homeRestored);
        }
        catch
        {
            Observe(live!);
            throw;
        }
        finally
        {
            // After the status's inspect: a recount lists every managed container, which would compete with it on the engine.
            _metrics.RequestRecount();
        }
    }

    /// <summary>
    /// The reply's status from the inspect after the start. When that inspect fails, the engine's answer to the start
    /// (it started) is what is known: running, since an unknown time.
    /// </summary>
    private async Task<ContainerStatus> StatusAfterStartAsync(ContainerRecord record, Task<EngineContainer?> live)
    {
        try
        {
            return StatusOf(record, await live, EngineUsage.None);
        }
        catch (Exception e) when (e is EngineException or OperationCanceledException)
        {
            LogStatusAfterCreateFailed(_logger, e, record.Owner.Value, record.ContainerId);
            return new ContainerStatus(record, LiveState.Running, null, null, null, null);
        }
    }

    /// <summary>The request's own faults (name, image, allowlist), before anything is asked of the store or the engine.</summary>
    private ContainerRefusal? CheckRequest(CreateRequest request, string image)
        => !IsValidName(request.Name) ? new Refusals.InvalidName(request.Name)
            : !ImageReference.IsValid(image) ? new Refusals.InvalidImage(image)
            : !_options.IsImageAllowed(image) ? new Refusals.ImageNotAllowed(image, _options.ImageAllowlist)
            : null;

    /// <summary>
    /// Writes the intent row ('creating', this operation), or the refusal when the owner's row is in the way (they have
    /// a container, or one is being made or removed) or the name is taken. A create that died half-way (its process is
    /// gone, or its roll-back met a dead engine) is rolled back first, and is then no obstacle.
    /// </summary>
    private async Task<(DateTimeOffset CreatedAt, ContainerRefusal? Refusal)> InsertIntentAsync(CreateRequest request, string image, string operation, CancellationToken cancellationToken)
    {
        var outcome = await _store.TryInsertIntentAsync(request.Owner, request.Name, image, operation, cancellationToken);
        if (outcome is IntentOutcome.OwnerBusy { Existing: { State: RowState.Creating, OperationId: { } abandoned } existing } && !_store.IsOperationAlive(existing))
        {
            await RollBackCreateAsync(request.Owner, abandoned, existing.ContainerId);
            outcome = await _store.TryInsertIntentAsync(request.Owner, request.Name, image, operation, cancellationToken);
        }
        return outcome switch
        {
            IntentOutcome.Inserted inserted => (inserted.CreatedAt, null),
            IntentOutcome.OwnerBusy { Existing: { State: RowState.Ready } ready } => (default, new Refusals.AlreadyHasContainer(ready.ToRecord())),
            IntentOutcome.OwnerBusy => (default, new Refusals.Busy(request.Owner)),
            _ => (default, new Refusals.NameTaken(request.Name)),
        };
    }

    /// <summary>Whether the engine has the image (asked without a side effect), or the refusal when it cannot be asked.</summary>
    private async Task<(bool Present, ContainerRefusal? Refusal)> ImagePresentAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            return (await _engine.ImageExistsAsync(image, cancellationToken), null);
        }
        catch (EngineException e)
        {
            return (false, ImageRefusal(image, e));
        }
    }

    /// <summary>Pulls a missing image (reporting progress). A refusal when it cannot be had.</summary>
    private async Task<ContainerRefusal?> PullAsync(string image, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        try
        {
            LogPulling(_logger, image);
            return await _engine.PullAsync(image, progress, cancellationToken) is { } reason ? new Refusals.ImageUnavailable(image, reason) : null;
        }
        catch (EngineException e)
        {
            return ImageRefusal(image, e);
        }
    }

    private ContainerRefusal ImageRefusal(string image, EngineException e)
    {
        _metrics.EngineError();
        return e is EngineUnavailableException ? new Refusals.EngineUnavailable(e.Message) : new Refusals.ImageUnavailable(image, e.Message);
    }

    /// <summary>
    /// What the engine must offer before anything is made in it: an enforceable disk limit (when one is set) and the
    /// network. Asked beside the intent row; neither touches a record, so a refusal leaves only that row to delete.
    /// </summary>
    private async Task<(string Network, ContainerRefusal? Refusal)> PrepareEngineAsync(string instance, CancellationToken cancellationToken)
    {
        try
        {
            if (await DiskLimitRefusalAsync(cancellationToken) is { } unenforceable)
                return ("", unenforceable);
            return await EnsureNetworkAsync(instance, cancellationToken);
        }
        catch (EngineUnavailableException e)
        {
            return ("", new Refusals.EngineUnavailable(e.Message));
        }
        catch (EngineRefusedException e)
        {
            return ("", Refused(e));
        }
    }

    /// <summary>
    /// Under the intent row: the home volume (made, labelled with this operation, or the kept one mounted again), the
    /// container (labelled with this operation), its id on the row while the engine starts it, and the 'ready' mark. Anything short of the mark is rolled back here (or, if this process
    /// dies, by the reconciler). Returns the container id, whether a kept home came back and the inspect after the start
    /// (for the reply's status), or the refusal.
    /// </summary>
    private async Task<(string? ContainerId, bool HomeRestored, Task<EngineContainer?>? Live, ContainerRefusal? Refusal)> MakeContainerAsync(CreateRequest request, string image,
        string instance, string network, string operation, CancellationToken cancellationToken)
    {
        string? containerId = null;
        var done = false;
        var homeRestored = false;
        try
        {
            string? home = null;
            if (_options.HomesEnabled)
            {
                home = HomeVolumeName(instance, request.Owner);
                // A new one is labelled with this operation, so a roll-back (here or by the reconciler) removes a home it
                // made; one that was there already carries another operation's label, or none.
                var volume = await _engine.CreateOrGetVolumeAsync(home, HomeLabels(instance, request.Owner, operation), cancellationToken);
                var madeNow = volume.Labels.TryGetValue(ContainerLabels.Operation, out var madeBy) && madeBy == operation;
                if (!madeNow && !IsOwnHome(volume, instance, request.Owner))
                    return (null, false, null, new Refusals.HomeVolumeNotOurs(home));
                homeRestored = !madeNow && volume.Labels.Count > 0;
            }
            containerId = await _engine.CreateAsync(new ContainerSpec(request.Name, image, Labels(instance, request.Owner, request.Name, operation), home, network), cancellationToken);
            if (containerId is null)
                return (null, false, null, new Refusals.NameTaken(request.Name));
            FaultInjection.Point(FaultInjection.Steps.CreateAfterEngineCreate);
            // The id goes on the row while the engine starts the container, not before: until the row has it, the
            // container's operation label is what ties it to the row, for the reconciler and for a roll-back alike.
            // The start goes out first: SQLite writes on the calling thread, so the id is written while the engine starts.
            var start = _engine.StartAsync(containerId, cancellationToken);
            await Task.WhenAll(start, RecordIdAsync(request.Owner, operation, containerId, cancellationToken));
            FaultInjection.Point(FaultInjection.Steps.CreateAfterStart);
            // The status's inspect goes to the engine while the records are written (the mark here, then the audit row):
            // neither waits on the other.
            var live = _engine.InspectAsync(containerId, cancellationToken);
            try
            {
                // Not cancellable: a mark that committed but reported a cancellation would have the roll-back remove
                // the container under a row that says ready.
                if (await _store.MarkReadyAsync(request.Owner, operation, CancellationToken.None) != 1)
                    throw new InvalidOperationException("The intent row vanished while the container was being created.");
            }
            catch
            {
                Observe(live);
                throw;
            }
            done = true;
            return (containerId, homeRestored, live, null);
        }
        catch (EngineUnavailableException e)
        {
            _metrics.EngineError();
            return (null, false, null, new Refusals.EngineUnavailable(e.Message));
        }
        catch (EngineRefusedException e)
        {
            _metrics.EngineError();
            return (null, false, null, Refused(e));
        }
        finally
        {
            if (!done)
                await RollBackCreateAsync(request.Owner, operation, containerId);
        }
    }

    private async Task RecordIdAsync(OwnerId owner, string operation, string containerId, CancellationToken cancellationToken)
    {
        await _store.SetContainerIdAsync(owner, operation, containerId, cancellationToken);
        FaultInjection.Point(FaultInjection.Steps.CreateAfterRecordId);
    }

    /// <summary>
    /// Whether the engine can enforce <see cref="ContainerOptions.DiskLimitBytes"/>, from its storage driver (asked once
    /// per service: the driver does not change while the engine runs). Throws <see cref="EngineUnavailableException"/>.
    /// </summary>
    public async Task<DiskLimitSupport> GetDiskLimitSupportAsync(CancellationToken cancellationToken = default)
        => _diskLimitSupport ??= DiskLimitSupport.Evaluate(await _engine.GetStorageAsync(cancellationToken));

    /// <summary>A refusal when a disk limit is set that this engine cannot enforce: a limit that silently does nothing is worse than none.</summary>
    private async Task<ContainerRefusal?> DiskLimitRefusalAsync(CancellationToken cancellationToken)
    {
        if (_options.DiskLimitBytes == 0)
            return null;
        var support = await GetDiskLimitSupportAsync(cancellationToken);
        return support.Enforceable ? null : new Refusals.DiskLimitNotEnforceable(DiskLimitSentence(support));
    }

    /// <summary>The one sentence start-up and create give when CONTAINER_DISK_LIMIT cannot be enforced (after the key).</summary>
    public static string DiskLimitSentence(DiskLimitSupport support)
    {
        ArgumentNullException.ThrowIfNull(support);
        return $"a disk limit cannot be enforced here: {support.Explanation}; leave {ContainerOptions.Keys.DiskLimit} empty, or move Docker's data root to a file system that supports it.";
    }

    /// <summary>
    /// The network a new container joins: "none", the operator's named network, or this instance's own network, made
    /// when missing. A concurrent creator (another process on the same database) is fine: whoever loses the race inspects
    /// what the winner made. Inspected on every create, so a network removed behind Dockhand's back is made again.
    /// Returns the network's name, or a refusal when a network of that name exists that is not this instance's or not isolated.
    /// </summary>
    private async Task<(string Network, ContainerRefusal? Refusal)> EnsureNetworkAsync(string instance, CancellationToken cancellationToken)
    {
        if (!_options.UsesInstanceNetwork)
            return (_options.Network, null);
        var name = InstanceNetwork.Name(instance);
        var existing = await _engine.InspectNetworkAsync(name, cancellationToken);
        if (existing is null)
        {
            var labels = new Dictionary<string, string>(_options.ExtraLabels, StringComparer.Ordinal)
            {
                [ContainerLabels.Managed] = "true",
                [ContainerLabels.Instance] = instance,
            };
            if (await _engine.CreateNetworkAsync(name, labels, InstanceNetwork.CreateOptions(instance), cancellationToken))
            {
                var bridge = InstanceNetwork.BridgeName(instance);
                LogNetworkCreated(_logger, name, bridge);
                return (name, null);
            }
            existing = await _engine.InspectNetworkAsync(name, cancellationToken);
            if (existing is null)
                return (name, new Refusals.NetworkNotUsable(name, $"the bridge interface name {InstanceNetwork.BridgeName(instance)} that the network {name} needs is taken by another network on the engine; remove that network or set CONTAINER_NETWORK"));
        }
        return InstanceNetwork.Problem(existing, instance) is { } problem
            ? (name, new Refusals.NetworkNotUsable(name, problem))
            : (name, null);
    }

    /// <summary>
    /// Removes the owner's recorded container (by its id, never by label: only what this instance recorded goes) and the
    /// record. The home volume stays unless <paramref name="purge"/>; with <paramref name="purge"/> a kept home is removed
    /// even when the owner has no container any more.
    /// </summary>
    public async Task<DestroyResult> DestroyAsync(OwnerId owner, Actor actor, bool purge = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        using var held = await LockAsync(owner, cancellationToken);
        if (held is null)
            return new DestroyResult.Refused(new Refusals.Busy(owner));
        return await DestroyHeldAsync(owner, actor, purge, "destroy", cancellationToken);
    }

    /// <summary>The body of <see cref="DestroyAsync"/>, with the owner's lock held; <paramref name="verb"/> names it in the audit log and metrics.</summary>
    private async Task<DestroyResult> DestroyHeldAsync(OwnerId owner, Actor actor, bool purge, string verb, CancellationToken cancellationToken)
    {
        var operation = Guid.NewGuid().ToString("N");
        var row = await _store.MarkDestroyingAsync(owner, operation, cancellationToken);
        try
        {
            if (row is { State: RowState.Creating })
            {
                if (_store.IsOperationAlive(row))
                    return new DestroyResult.Refused(new Refusals.Busy(owner));
                // A create that died half-way: roll it back, which is what destroy means here.
                await RollBackCreateAsync(owner, row.OperationId!, row.ContainerId);
                row = null;
            }
            if (row is null)
            {
                var leftHome = await SettleHomeAsync(owner, purge, cancellationToken);
                await AuditAsync(actor, verb, owner, null, null, "nothing-to-destroy", leftHome == HomeOutcome.Purged ? "home volume purged" : null, cancellationToken);
                return new DestroyResult.Destroyed(null, leftHome);
            }

            FaultInjection.Point(FaultInjection.Steps.DestroyAfterMark);
            if (!row.ContainerId.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
                await _engine.RemoveAsync(row.ContainerId, cancellationToken);
            FaultInjection.Point(FaultInjection.Steps.DestroyAfterEngineRemove);
            await _store.DeleteAsync(owner, row.ContainerId, CancellationToken.None);
            var home = await SettleHomeAsync(owner, purge, CancellationToken.None);
            await AuditAsync(actor, verb, owner, row.Name, row.ContainerId, "destroyed", home switch { HomeOutcome.Kept => "home volume kept", HomeOutcome.Purged => "home volume purged", _ => null }, CancellationToken.None);
            LogDestroyed(_logger, owner.Value, row.Name, row.ContainerId);
            return new DestroyResult.Destroyed(row.ToRecord(), home);
        }
        catch (EngineException e)
        {
            if (row is not null)
                await _store.RevertDestroyingAsync(owner, operation, CancellationToken.None);
            var reason = EngineRefusal(e);
            await AuditAsync(actor, verb, owner, row?.Name, row?.ContainerId, "refused", AuditText(reason), CancellationToken.None);
            LogRefused(_logger, verb, owner.Value, reason.GetType().Name, reason.Detail ?? "");
            return new DestroyResult.Refused(reason);
        }
    }

    /// <summary>Keeps or (with <paramref name="purge"/>) removes the owner's home volume, when it is this instance's own.</summary>
    private async Task<HomeOutcome> SettleHomeAsync(OwnerId owner, bool purge, CancellationToken cancellationToken)
    {
        if (!_options.HomesEnabled && !purge)
            return HomeOutcome.None;
        var instance = await _store.GetInstanceIdAsync(cancellationToken);
        var name = HomeVolumeName(instance, owner);
        if (await _engine.InspectVolumeAsync(name, cancellationToken) is not { } volume || !IsOwnHome(volume, instance, owner))
            return HomeOutcome.None;
        if (!purge)
            return HomeOutcome.Kept;
        await _engine.RemoveVolumeAsync(name, cancellationToken);
        LogHomePurged(_logger, owner.Value, name);
        return HomeOutcome.Purged;
    }

    public async Task<StatusResult> StatusAsync(OwnerId owner, CancellationToken cancellationToken = default)
    {
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is null)
            return new StatusResult.Refused(new Refusals.NoContainer(owner));
        if (row.State == RowState.Creating)
            return new StatusResult.Refused(new Refusals.Busy(owner));
        try
        {
            var status = await LiveStatusAsync(row.ToRecord(), withUsage: true, cancellationToken);
            var homes = await ListHomesAsync(owner, cancellationToken);
            return new StatusResult.Found(await WithIdleStopAsync(status, cancellationToken) with { Home = homes.Count > 0 ? homes[0] : null });
        }
        catch (EngineException e)
        {
            var reason = EngineRefusal(e);
            LogRefused(_logger, "status", owner.Value, reason.GetType().Name, reason.Detail ?? "");
            return new StatusResult.Refused(reason);
        }
    }

    /// <summary>
    /// A page of records ordered by creation time, joined with the live state from one engine list call filtered to
    /// the page's container ids (plus one inspect per running container on the page, for its start time). Usage figures are left null:
    /// <see cref="StatusAsync"/> gives them. Throws <see cref="EngineUnavailableException"/> when the engine is down.
    /// </summary>
    public async Task<ContainerPage> ListAsync(int pageIndex, int pageSize, CancellationToken cancellationToken = default)
    {
        pageIndex = Math.Max(0, pageIndex);
        pageSize = Math.Clamp(pageSize, 1, 100);
        var (rows, total) = await _store.PageAsync(pageIndex, pageSize, cancellationToken);
        // Only the page's containers, by id (labelled or not: a record made before Dockhand's labels has none), so a
        // page costs the same with ten containers or thousands.
        var live = (await _engine.ListByIdsAsync([.. rows.Select(r => r.ContainerId)], cancellationToken)).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var items = await Task.WhenAll(rows.Select(async row =>
        {
            var record = row.ToRecord();
            if (!live.TryGetValue(row.ContainerId, out var listed))
                return new ContainerStatus(record, LiveState.Missing, null, null, null, null);
            if (listed.State is not (LiveState.Running or LiveState.Restarting or LiveState.Paused))
                return new ContainerStatus(record, listed.State, null, null, null, null);
            // Running: the list has no start time, the inspect has.
            var inspected = await _engine.InspectAsync(row.ContainerId, cancellationToken);
            return inspected is null
                ? new ContainerStatus(record, LiveState.Missing, null, null, null, null)
                : new ContainerStatus(record, inspected.State, inspected.StartedAt, null, null, null);
        }));
        return new ContainerPage(items, pageIndex, pageSize, total);
    }

    public async Task<StatusResult> ApplyAsync(OwnerId owner, LifecycleAction action, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        using var held = await LockAsync(owner, cancellationToken);
        if (held is null)
            return new StatusResult.Refused(new Refusals.Busy(owner));
        var row = await _store.FindAsync(owner, cancellationToken);
        if (row is null)
            return new StatusResult.Refused(new Refusals.NoContainer(owner));
        if (row.State != RowState.Ready)
            return new StatusResult.Refused(new Refusals.Busy(owner));
        var verb = action.ToString().ToLowerInvariant();
        try
        {
            if (await _engine.InspectAsync(row.ContainerId, cancellationToken) is null)
            {
                await AuditAsync(actor, verb, owner, row.Name, row.ContainerId, "refused", "missing", cancellationToken);
                return new StatusResult.Refused(new Refusals.ContainerMissing(row.ToRecord()));
            }
            switch (action)
            {
                case LifecycleAction.Start:
                    await _engine.StartAsync(row.ContainerId, cancellationToken);
                    break;
                case LifecycleAction.Stop:
                    await _engine.StopAsync(row.ContainerId, cancellationToken);
                    break;
                case LifecycleAction.Restart:
                    await _engine.RestartAsync(row.ContainerId, cancellationToken);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(action), action, null);
            }
            await AuditAsync(actor, verb, owner, row.Name, row.ContainerId, "done", null, cancellationToken);
            return new StatusResult.Found(await LiveStatusAsync(row.ToRecord(), withUsage: false, cancellationToken));
        }
        catch (EngineException e)
        {
            var reason = EngineRefusal(e);
            await AuditAsync(actor, verb, owner, row.Name, row.ContainerId, "refused", AuditText(reason), CancellationToken.None);
            LogRefused(_logger, verb, owner.Value, reason.GetType().Name, reason.Detail ?? "");
            return new StatusResult.Refused(reason);
        }
    }

    /// <summary>
    /// The images a user may pick for /create, DEFAULT_IMAGE first: the IMAGE_ALLOWLIST when one is set (without asking
    /// the engine: an allowed image is pulled on create), otherwise the engine's local images.
    /// Throws <see cref="EngineUnavailableException"/> when the engine must be asked and does not answer.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListSelectableImagesAsync(CancellationToken cancellationToken = default)
    {
        IEnumerable<string> images = _options.ImageAllowlist.Count > 0
            ? _options.ImageAllowlist
            : await _engine.ListLocalImagesAsync(cancellationToken);
        return [.. images.Prepend(_options.DefaultImage).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>The owner's record, without asking the engine. Null when the owner has none (or one is still being created).</summary>
    public async Task<ContainerRecord?> FindAsync(OwnerId owner, CancellationToken cancellationToken = default)
    {
        var row = await _store.FindAsync(owner, cancellationToken);
        return row is null || row.State == RowState.Creating ? null : row.ToRecord();
    }

    /// <summary>
    /// This instance's home volumes (one per owner, with or without a container), optionally for one owner.
    /// Empty when home volumes are off.
    /// </summary>
    public async Task<IReadOnlyList<HomeVolume>> ListHomesAsync(OwnerId? owner = null, CancellationToken cancellationToken = default)
    {
        if (!_options.HomesEnabled)
            return [];
        var instance = await _store.GetInstanceIdAsync(cancellationToken);
        var filter = new Dictionary<string, string> { [ContainerLabels.Instance] = instance };
        if (owner is { } one)
            filter[ContainerLabels.Owner] = one.ToString();
        var homes = new List<HomeVolume>();
        foreach (var volume in await _engine.ListVolumesAsync(filter, cancellationToken))
        {
            if (volume.Labels.TryGetValue(ContainerLabels.Owner, out var text) && OwnerId.TryParse(text, out var volumeOwner) && IsOwnHome(volume, instance, volumeOwner))
                homes.Add(new HomeVolume(volumeOwner, volume.Name));
        }
        return [.. homes.OrderBy(h => h.Owner.Value)];
    }

    /// <summary>Managed containers on the engine that are not this instance's: another instance's, or unlabelled and unrecorded here.</summary>
    public async Task<int> CountForeignAsync(CancellationToken cancellationToken = default)
    {
        var instance = await _store.GetInstanceIdAsync(cancellationToken);
        var recorded = (await _store.AllAsync(cancellationToken)).Select(r => r.ContainerId).ToHashSet(StringComparer.Ordinal);
        return (await _engine.ListManagedAsync(null, cancellationToken)).Count(c => IsForeign(c, instance, recorded));
    }

    /// <summary>
    /// Another instance's container (its instance label differs), or one with no instance label that this database does not
    /// record by id (made by an older Dockhand on another database). Never touched.
    /// </summary>
    internal static bool IsForeign(EngineContainer container, string instance, IReadOnlySet<string> recordedIds)
        => container.Labels.TryGetValue(ContainerLabels.Instance, out var owner) ? owner != instance : !recordedIds.Contains(container.Id);

    /// <summary>One home volume per owner and instance, so two Dockhands on one engine never share a user's files.</summary>
    internal static string HomeVolumeName(string instance, OwnerId owner) => $"dockhand-home-{instance}-{owner}";

    /// <summary>
    /// The owner's home: labelled with this instance and owner, or — what an engine killed while creating it leaves —
    /// carrying no labels at all under the name only this instance uses (its random id is in the name).
    /// </summary>
    private static bool IsOwnHome(EngineVolume volume, string instance, OwnerId owner)
        => volume.Labels.Count == 0 ? volume.Name == HomeVolumeName(instance, owner)
        : volume.Labels.TryGetValue(ContainerLabels.Managed, out var managed) && managed == "true"
          && volume.Labels.TryGetValue(ContainerLabels.Instance, out var i) && i == instance
          && volume.Labels.TryGetValue(ContainerLabels.Owner, out var o) && o == owner.ToString();

    private Dictionary<string, string> HomeLabels(string instance, OwnerId owner, string operation) => new(_options.ExtraLabels, StringComparer.Ordinal)
    {
        [ContainerLabels.Managed] = "true",
        [ContainerLabels.Instance] = instance,
        [ContainerLabels.Owner] = owner.ToString(),
        [ContainerLabels.Operation] = operation,
    };

    /// <summary>The labels put on a new container: DESIGN §2's four, the operation id, and the configured extras.</summary>
    internal Dictionary<string, string> Labels(string instance, OwnerId owner, string name, string operation)
    {
        var labels = new Dictionary<string, string>(_options.ExtraLabels, StringComparer.Ordinal)
        {
            [ContainerLabels.Managed] = "true",
            [ContainerLabels.Instance] = instance,
            [ContainerLabels.Owner] = owner.ToString(),
            [ContainerLabels.Name] = name,
            [ContainerLabels.Operation] = operation,
        };
        return labels;
    }

    /// <summary>
    /// Removes a half-made container (by id, or by its operation label), a home volume that this operation made, and
    /// the intent row. The operation id is a random value from this database's own row, so what carries it is ours. Never throws.
    /// </summary>
    internal async Task RollBackCreateAsync(OwnerId owner, string operation, string? containerId)
    {
        try
        {
            var byOperation = new Dictionary<string, string> { [ContainerLabels.Operation] = operation };
            if (containerId is not null && !containerId.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
                await _engine.RemoveAsync(containerId, CancellationToken.None);
            foreach (var leftover in await _engine.ListManagedAsync(byOperation, CancellationToken.None))
                await _engine.RemoveAsync(leftover.Id, CancellationToken.None);
            foreach (var home in await _engine.ListVolumesAsync(byOperation, CancellationToken.None))
                await _engine.RemoveVolumeAsync(home.Name, CancellationToken.None);
            await _store.DeleteIntentAsync(owner, operation, CancellationToken.None);
            _store.Forget(operation);
        }
        catch (DbException e)
        {
            _store.GiveUp(operation);
            LogIntentLeft(_logger, e, owner.Value);
        }
        catch (EngineException e)
        {
            _metrics.EngineError();
            // The row stays 'creating' but is let go of (no live process): the owner's next create or destroy, or the
            // reconciler, finishes the roll-back once the engine is back, without waiting for this process to end.
            LogRollbackFailed(_logger, owner.Value, e.Message);
            try
            {
                await _store.AbandonIntentAsync(owner, operation, CancellationToken.None);
            }
            catch (DbException)
            {
                _store.GiveUp(operation);
            }
        }
    }

    /// <summary>
    /// Deletes a create's intent row before anything was made in the engine. When the database cannot do it, the
    /// operation is given up instead (<see cref="ContainerStore.GiveUp"/>) and the caller's own outcome stands: the
    /// row is not left blocking its owner until this process ends.
    /// </summary>
    private async Task DeleteIntentOrGiveUpAsync(OwnerId owner, string operation)
    {
        try
        {
            await _store.DeleteIntentAsync(owner, operation, CancellationToken.None);
        }
        catch (DbException e)
        {
            _store.GiveUp(operation);
            LogIntentLeft(_logger, e, owner.Value);
        }
    }

    private async Task<ContainerStatus> LiveStatusAsync(ContainerRecord record, bool withUsage, CancellationToken cancellationToken)
    {
        var live = await _engine.InspectAsync(record.ContainerId, cancellationToken);
        // A Swarm task on a node that is down cannot be asked for stats; status still says where it is.
        var usage = withUsage && live is { State: LiveState.Running, Placement: not { NodeReady: false } }
            ? await _engine.GetUsageAsync(record.ContainerId, cancellationToken)
            : EngineUsage.None;
        return StatusOf(record, live, usage);
    }

    /// <summary>For an engine call whose answer is no longer wanted: its failure is seen (and dropped), not left unobserved.</summary>
    private static void Observe(Task abandoned)
        => abandoned.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static ContainerStatus StatusOf(ContainerRecord record, EngineContainer? live, EngineUsage usage)
        => live is null
            ? new ContainerStatus(record, LiveState.Missing, null, null, null, null)
            : new ContainerStatus(record, live.State, live.StartedAt, usage.CpuPercent, usage.MemoryUsageBytes, usage.MemoryLimitBytes) { Placement = live.Placement };

    private async Task<CreateResult> RefuseCreateAsync(CreateRequest request, string image, ContainerRefusal reason, CancellationToken cancellationToken)
    {
        await AuditAsync(request.Actor, "create", request.Owner, request.Name, null, "refused", $"{AuditText(reason)} (image {image})", CancellationToken.None);
        LogCreateRefused(_logger, request.Owner.Value, reason.GetType().Name, reason.Detail ?? "");
        return new CreateResult.Refused(reason);
    }

    private ContainerRefusal EngineRefusal(EngineException e)
    {
        _metrics.EngineError();
        return e is EngineRefusedException refused
            ? Refused(refused)
            : new Refusals.EngineUnavailable(e.Message);
    }

    private static ContainerRefusal Refused(EngineRefusedException e)
        => e.Kind == Containers.EngineRefusal.Placement ? new Refusals.CannotPlace(e.Message) : new Refusals.EngineRefused(e.Message);

    /// <summary>Appends to the audit log and counts the operation by the same verb and outcome; <paramref name="recount"/>
    /// false when the caller asks for the gauge's recount itself, later.</summary>
    private async Task AuditAsync(Actor actor, string operation, OwnerId? owner, string? name, string? containerId, string outcome, string? detail, CancellationToken cancellationToken,
        bool recount = true)
    {
        _metrics.Operation(operation, outcome);
        await _store.AppendAuditAsync(actor, operation, owner, name, containerId, outcome, detail, cancellationToken);
        if (recount)
            _metrics.RequestRecount();
    }

    /// <summary>The audit log's text for a refusal: its kind, the user's sentence and (for operators) the engine's detail.</summary>
    internal static string AuditText(ContainerRefusal reason)
        => reason.Detail is { } detail ? $"{reason.GetType().Name}: {reason.Message} [engine: {detail}]" : $"{reason.GetType().Name}: {reason.Message}";

    /// <summary>Waits for the owner's lock (bounded). Null when it could not be had in time.</summary>
    private async Task<IDisposable?> LockAsync(OwnerId owner, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(owner, _ => new SemaphoreSlim(1, 1));
        return await gate.WaitAsync(LockWait, cancellationToken) ? new Releaser(gate) : null;
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                gate.Release();
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NamePattern();

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Created container {Name} ({ContainerId}) for owner {Owner}")]
    private static partial void LogCreated(ILogger logger, ulong owner, string name, string containerId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Create for owner {Owner} refused: {Reason} {Detail}")]
    private static partial void LogCreateRefused(ILogger logger, ulong owner, string reason, string detail);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "{Operation} for owner {Owner} refused: {Reason} {Detail}")]
    private static partial void LogRefused(ILogger logger, string operation, ulong owner, string reason, string detail);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Destroyed container {Name} ({ContainerId}) of owner {Owner}")]
    private static partial void LogDestroyed(ILogger logger, ulong owner, string name, string containerId);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Pulling image {Image}")]
    private static partial void LogPulling(ILogger logger, string image);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "Purged home volume {Volume} of owner {Owner}")]
    private static partial void LogHomePurged(ILogger logger, ulong owner, string volume);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "Created the instance network {Network} (bridge {Bridge}, inter-container traffic off)")]
    private static partial void LogNetworkCreated(ILogger logger, string network, string bridge);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Error, Message = "Container {ContainerId} of owner {Owner} was created, but its audit row could not be written")]
    private static partial void LogCreatedNotAudited(ILogger logger, Exception exception, ulong owner, string containerId);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Warning, Message = "Container {ContainerId} of owner {Owner} was created and started, but the inspect for the reply's status failed; reported as running")]
    private static partial void LogStatusAfterCreateFailed(ILogger logger, Exception exception, ulong owner, string containerId);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "The intent row of a failed create for owner {Owner} could not be deleted; the owner's next create or destroy, or the reconciler, removes it")]
    private static partial void LogIntentLeft(ILogger logger, Exception exception, ulong owner);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Roll-back of a failed create for owner {Owner} did not finish ({Reason}); the reconciler will finish it")]
    private static partial void LogRollbackFailed(ILogger logger, ulong owner, string reason);
}
