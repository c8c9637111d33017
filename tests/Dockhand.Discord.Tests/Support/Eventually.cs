namespace Dockhand.Discord.Tests.Support;

/// <summary>
/// The one way these tests wait for something another thread does: poll a condition until it holds, bounded by
/// <see cref="TimerRecordingTimeProvider.WaitLimit"/> of real time. A passing wait returns as soon as its condition
/// holds, so a starved machine makes a run slow, never wrong; a wait that times out fails with what it waited for.
/// </summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimerRecordingTimeProvider.WaitLimit);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Waited for {what}.");
            await Task.Delay(5, cancellationToken); // a poll interval, not a wait for correctness
        }
    }
}
