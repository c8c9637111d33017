using System.Diagnostics.Metrics;

namespace Dockhand.Terminal;

/// <summary>
/// The web terminal's measurements (meter <see cref="MeterName"/>), made through the host's <see cref="IMeterFactory"/>.
/// The module knows nothing of how they are exported.
/// </summary>
internal sealed class TerminalMetrics
{
    public const string MeterName = "Dockhand.Terminal";

    private readonly Meter _meter;
    private readonly Counter<long> _bytes;

    public TerminalMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _bytes = _meter.CreateCounter<long>("dockhand.terminal.bytes", "By",
            "Bytes relayed between terminal pages and container shells: direction=in is typed input, out is shell output.");
    }

    /// <summary>Reports <paramref name="liveSessions"/> as <c>dockhand.terminal.sessions</c> whenever the meter is read.</summary>
    public void ObserveSessions(Func<int> liveSessions) =>
        _meter.CreateObservableGauge("dockhand.terminal.sessions", liveSessions, "{session}", "Live terminal sessions (attached or waiting for their page).");

    public void Input(int bytes) => _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "in"));

    public void Output(int bytes) => _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "out"));
}
