using Dockhand.Containers;

namespace Dockhand.Cli;

/// <summary>A one-line progress bar for image pulls, redrawn in place with '\r'. Only used when stdout is a terminal.</summary>
internal sealed class PullProgressBar(TextWriter output) : IProgress<PullProgress>
{
    private const int Width = 30;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (long Current, long Total)> _layers = new(StringComparer.Ordinal);
    private bool _drawn;

    public void Report(PullProgress value)
    {
        lock (_gate)
        {
            var layer = value.Status.Split(':')[0];
            if (value.TotalBytes is > 0 && value.CurrentBytes is { } current)
                _layers[layer] = (current, value.TotalBytes.Value);
            long done = _layers.Values.Sum(l => l.Current), total = _layers.Values.Sum(l => l.Total);
            var fraction = total > 0 ? Math.Clamp((double)done / total, 0, 1) : 0;
            var filled = (int)(fraction * Width);
            var status = value.Status.Length > 40 ? value.Status[..40] : value.Status;
            output.Write($"\rpulling {value.Image} [{new string('#', filled)}{new string('.', Width - filled)}] {fraction * 100,3:0}% {status,-40}");
            _drawn = true;
        }
    }

    public void Finish()
    {
        lock (_gate)
        {
            if (_drawn)
                output.WriteLine();
        }
    }
}
