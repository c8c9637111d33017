namespace Dockhand.Testing;

/// <summary>
/// The one way the tests wait for something another thread or process does: poll a condition until it holds, bounded
/// in real time. A passing wait returns as soon as its condition holds, so a starved machine makes a run slow, never
/// wrong; a wait that times out fails with what it waited for.
/// </summary>
public static class Eventually
{
    /// <summary>How long a wait lasts unless the caller says otherwise: room for a starved machine (scripts/starve.sh
    /// runs the suites 15-30 times slower than unloaded). A passing wait returns at once, so only a failing test pays for
    /// the bound.</summary>
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(90);

    public static Task TrueAsync(Func<bool> condition, string what, CancellationToken cancellationToken, TimeSpan? timeout = null, TimeSpan? interval = null)
        => TrueAsync(() => Task.FromResult(condition()), what, cancellationToken, timeout, interval);

    public static async Task TrueAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken, TimeSpan? timeout = null, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultLimit);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Waited {(timeout ?? DefaultLimit).TotalSeconds} s for {what}.");
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(5), cancellationToken); // a poll interval, not a wait for correctness
        }
    }
}
