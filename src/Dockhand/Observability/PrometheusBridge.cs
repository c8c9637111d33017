using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Prometheus;

namespace Dockhand.Observability;

/// <summary>
/// Exports the modules' <see cref="System.Diagnostics.Metrics"/> instruments into one prometheus-net registry.
/// </summary>
/// <remarks>
/// Not prometheus-net's own MeterAdapter, because that one prefixes every name with the meter's name, exports counters
/// as gauges, and drops a series after 5 minutes without a change (a quiet counter would restart from zero).
/// This bridge follows the OpenTelemetry Prometheus naming instead (dots become underscores, unit "s" adds
/// <c>_seconds</c>, "By" <c>_bytes</c>, a counter <c>_total</c>), so "dockhand.operations" is exported as the counter
/// <c>dockhand_operations_total</c>, and a switch to the OpenTelemetry exporter would keep every series name.
/// Only meters made by this host's <see cref="IMeterFactory"/> whose name starts with "Dockhand." are exported, so two
/// hosts in one process (the tests) never see each other's values. A collector's label names are those of the
/// instrument's first measurement; each instrument always records the same tag keys.
/// </remarks>
internal sealed class PrometheusBridge : IDisposable
{
    private const string MeterPrefix = "Dockhand.";

    private readonly MeterListener _listener = new();
    private readonly MetricFactory _factory;
    private readonly ConcurrentDictionary<Instrument, Exported> _exported = new();
    private volatile bool _disposed;

    public PrometheusBridge(IMeterFactory meterFactory, CollectorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(registry);
        _factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Meter.Name.StartsWith(MeterPrefix, StringComparison.Ordinal))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<int>((i, m, tags, _) => Record(i, m, tags));
        _listener.SetMeasurementEventCallback<long>((i, m, tags, _) => Record(i, m, tags));
        _listener.SetMeasurementEventCallback<double>((i, m, tags, _) => Record(i, m, tags));
        _listener.Start();
        // Observable gauges are read at scrape time. The registry cannot forget a callback; after Dispose it does nothing.
        registry.AddBeforeCollectCallback(() =>
        {
            if (!_disposed)
                _listener.RecordObservableInstruments();
        });
    }

    /// <summary>The Prometheus name of an instrument, e.g. "dockhand.create.duration" with unit "s" → dockhand_create_duration_seconds.</summary>
    internal static string PrometheusName(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_').Replace('-', '_').ToLowerInvariant();
        var unit = instrument.Unit switch
        {
            "s" => "_seconds",
            "By" => "_bytes",
            _ => "",
        };
        if (unit.Length > 0 && !name.EndsWith(unit, StringComparison.Ordinal))
            name += unit;
        if (IsCounter(instrument))
            name += "_total";
        return name;
    }

    private static bool IsCounter(Instrument instrument) =>
        instrument is Counter<int> or Counter<long> or Counter<double> or ObservableCounter<int> or ObservableCounter<long> or ObservableCounter<double>;

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!_exported.TryGetValue(instrument, out var exported))
        {
            var labelNames = tags.ToArray().Select(t => t.Key).Order(StringComparer.Ordinal).ToArray();
            exported = _exported.GetOrAdd(instrument, Export, labelNames);
        }
        var values = new string[exported.LabelNames.Length];
        foreach (var tag in tags)
        {
            var index = Array.IndexOf(exported.LabelNames, tag.Key);
            if (index >= 0)
                values[index] = Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
        }
        for (var i = 0; i < values.Length; i++)
            values[i] ??= "";
        exported.Record(value, values);
    }

    private Exported Export(Instrument instrument, string[] labelNames)
    {
        var name = PrometheusName(instrument);
        var help = string.IsNullOrEmpty(instrument.Description) ? instrument.Name : instrument.Description;
        switch (instrument)
        {
            case Counter<int> or Counter<long> or Counter<double>:
                var counter = _factory.CreateCounter(name, help, labelNames);
                return new Exported(labelNames, (v, l) => (l.Length == 0 ? (ICounter)counter : counter.WithLabels(l)).Inc(v));
            case ObservableCounter<int> or ObservableCounter<long> or ObservableCounter<double>:
                var observed = _factory.CreateCounter(name, help, labelNames);
                return new Exported(labelNames, (v, l) => (l.Length == 0 ? (ICounter)observed : observed.WithLabels(l)).IncTo(v));
            case Histogram<int> or Histogram<long> or Histogram<double>:
                var buckets = (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries?.ToArray();
                var histogram = _factory.CreateHistogram(name, help, labelNames, buckets is null ? null : new HistogramConfiguration { Buckets = buckets });
                return new Exported(labelNames, (v, l) => (l.Length == 0 ? (IHistogram)histogram : histogram.WithLabels(l)).Observe(v));
            case UpDownCounter<int> or UpDownCounter<long> or UpDownCounter<double>:
                var sum = _factory.CreateGauge(name, help, labelNames);
                return new Exported(labelNames, (v, l) => (l.Length == 0 ? (IGauge)sum : sum.WithLabels(l)).Inc(v));
            default:
                // Observable gauges (and observable up-down counters) report the current value.
                var gauge = _factory.CreateGauge(name, help, labelNames);
                return new Exported(labelNames, (v, l) => (l.Length == 0 ? (IGauge)gauge : gauge.WithLabels(l)).Set(v));
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
    }

    private sealed record Exported(string[] LabelNames, Action<double, string[]> Record);
}
