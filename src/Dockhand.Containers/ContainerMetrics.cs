using System.Diagnostics.Metrics;

namespace Dockhand.Containers;

/// <summary>
/// The container module's measurements (meter <see cref="MeterName"/>), made through the host's <see cref="IMeterFactory"/>
/// so each host (and each test) has its own. The module knows nothing of how they are exported.
/// </summary>
public sealed class ContainerMetrics
{
    public const string MeterName = "Dockhand.Containers";

    /// <summary>The states <c>dockhand.containers</c> always reports (0 when none), so a dashboard's series never vanish.</summary>
    internal static readonly string[] States =
        ["creating", "destroying", "created", "running", "paused", "restarting", "exited", "dead", "missing"];

    private readonly Counter<long> _operations;
    private readonly Histogram<double> _createDuration;
    private readonly Counter<long> _engineErrors;
    private volatile IReadOnlyDictionary<string, int> _containers = States.ToDictionary(s => s, _ => 0);
    /// <summary>
    /// How long a requested recount waits before it lists: an operation's own request and the engine's events of it (a
    /// create's start event) come within milliseconds, so they share one list of every managed container, made after the
    /// burst instead of beside the operation's last engine calls.
    /// </summary>
    internal static readonly TimeSpan RecountSettle = TimeSpan.FromMilliseconds(250);

    private readonly TimeProvider _time;
    private Func<Task>? _recount;
    private int _recountWanted;
    private int _recountWorker;

    public ContainerMetrics(IMeterFactory meterFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _time = time ?? TimeProvider.System;
#pragma warning disable CA2000 // The meter factory owns the meters it creates and disposes them with the container.
        var meter = meterFactory.Create(MeterName);
#pragma warning restore CA2000
        _operations = meter.CreateCounter<long>("dockhand.operations", "{operation}",
            "Container operations (create, destroy, start, stop, restart, idle_stop, stopped_destroy) by outcome, as the audit log records them.");
        _createDuration = meter.CreateHistogram("dockhand.create.duration", "s",
            "Time from a create request to a running container (pull included), for creates that succeeded.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600] });
        _engineErrors = meter.CreateCounter<long>("dockhand.engine.errors", "{error}",
            "Docker engine calls that failed (unreachable, or refused with an API error) where the container service caught them.");
        meter.CreateObservableGauge("dockhand.containers", ObserveContainers, "{container}",
            "Recorded containers by state: the engine's live state for ready records, creating or destroying for the others; as of the latest count (at start-up, on every container create and destroy event, and a quarter second after each operation and each start, die, pause and unpause event).");
    }

    internal void Operation(string operation, string outcome) =>
        _operations.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", outcome));

    internal void Created(TimeSpan elapsed) => _createDuration.Record(elapsed.TotalSeconds);

    internal void EngineError() => _engineErrors.Add(1);

    /// <summary>Replaces the per-state counts (states not given are 0).</summary>
    internal void SetContainers(IEnumerable<string> states)
    {
        var counts = States.ToDictionary(s => s, _ => 0);
        foreach (var state in states)
            counts[state] = counts.GetValueOrDefault(state) + 1;
        _containers = counts;
    }

    /// <summary>How to recount (the reconciler's: one engine list and one read of the rows).</summary>
    internal void UseRecount(Func<Task> recount) => _recount = recount;

    /// <summary>
    /// Recounts in the background, <see cref="RecountSettle"/> from now: after an operation of this process changed a
    /// record (the engine's events alone come too early for that: a container's start event arrives while its record
    /// still says creating), and on the engine's events that change a count. Requests that come while one is pending
    /// share it; one that comes while a count runs gets another after it. One worker makes them all, so two counts never
    /// run at once, and an older count (a slow list of a thousand containers) never overwrites a newer one.
    /// </summary>
    internal void RequestRecount()
    {
        if (_recount is not { } recount)
            return;
        Interlocked.Exchange(ref _recountWanted, 1);
        if (Interlocked.Exchange(ref _recountWorker, 1) == 0)
            _ = Task.Run(() => RecountWhileWantedAsync(recount));
    }

    private async Task RecountWhileWantedAsync(Func<Task> recount)
    {
        while (true)
        {
            await Task.Delay(RecountSettle, _time);
            Interlocked.Exchange(ref _recountWanted, 0);
            try
            {
                await recount();
            }
            catch (Exception)
            {
                // A count must never fail an operation: with the engine or database unavailable (or the host stopping)
                // the gauge keeps its last counts until the next recount.
            }
            Interlocked.Exchange(ref _recountWorker, 0);
            // A request since the count began found the worker busy and left its count to it: take the work back,
            // unless a new worker already has.
            if (Volatile.Read(ref _recountWanted) == 0 || Interlocked.Exchange(ref _recountWorker, 1) == 1)
                return;
        }
    }

    private IEnumerable<Measurement<int>> ObserveContainers() =>
        _containers.Select(c => new Measurement<int>(c.Value, new KeyValuePair<string, object?>("state", c.Key)));
}
