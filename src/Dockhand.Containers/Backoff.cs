namespace Dockhand.Containers;

/// <summary>
/// A retry delay that doubles after each use, up to a cap, and starts over after a success. Only the value: the caller
/// waits on its own injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class Backoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;

    public Backoff(TimeSpan initial, TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        _initial = initial;
        _max = max;
        Current = initial;
    }

    /// <summary>The delay the next <see cref="Next"/> returns.</summary>
    public TimeSpan Current { get; private set; }

    /// <summary>The delay to wait now; the one after it is twice as long (at most the cap).</summary>
    public TimeSpan Next()
    {
        var delay = Current;
        Current = delay * 2 < _max ? delay * 2 : _max;
        return delay;
    }

    /// <summary>After a success: the next wait is the initial one again.</summary>
    public void Reset() => Current = _initial;
}
