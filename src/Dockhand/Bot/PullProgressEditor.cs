using System.Globalization;
using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot;

/// <summary>
/// Turns image-pull progress into @original edits, at most one per <paramref name="interval"/> and never two at once.
/// Reports in between are dropped (the next edit shows the newest state). <see cref="DrainAsync"/> waits for the edit
/// in flight so that the final result is never overwritten by a late progress edit. No edit starts after
/// <c>stopAt</c> (shortly before the interaction token expires).
/// </summary>
internal sealed class PullProgressEditor(Func<string, CancellationToken, Task> edit, TimeProvider time, TimeSpan interval, ILogger logger, ulong interactionId,
    CancellationToken cancellationToken, DateTimeOffset? stopAt = null) : IProgress<PullProgress>
{
    private readonly Lock _gate = new();
    private DateTimeOffset _lastEdit = DateTimeOffset.MinValue;
    private Task _inFlight = Task.CompletedTask;
    private bool _closed;

    /// <summary>How many edits were started (for tests).</summary>
    public int Edits { get; private set; }

    public void Report(PullProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (_gate)
        {
            var now = time.GetUtcNow();
            // No progress edits close to the token's expiry (stopAt): the final result needs the last edit.
            if (_closed || !_inFlight.IsCompleted || now - _lastEdit < interval || now >= stopAt)
                return;
            _lastEdit = now;
            Edits++;
            _inFlight = EditSafelyAsync(Describe(value));
        }
    }

    private async Task EditSafelyAsync(string text)
    {
        try
        {
            await edit(text, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            BotLog.ProgressEditFailed(logger, e, interactionId);
        }
    }

    /// <summary>Stops further edits and waits for the one in flight.</summary>
    public Task DrainAsync()
    {
        lock (_gate)
        {
            _closed = true;
            return _inFlight;
        }
    }

    public static string Describe(PullProgress p)
    {
        var status = string.IsNullOrWhiteSpace(p.Status) ? "working" : p.Status.Trim();
        if (status.Length > 60)
            status = status[..60];
        var amount = p.CurrentBytes is { } current && p.TotalBytes is { } total and > 0
            ? $" ({(100.0 * current / total).ToString("0", CultureInfo.InvariantCulture)} % of {(total / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture)} MiB)"
            : "";
        return $"Pulling {BotMessages.Code(p.Image)}: {status}{amount}…";
    }
}
