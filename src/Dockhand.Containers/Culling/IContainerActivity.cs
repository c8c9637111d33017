namespace Dockhand.Containers.Culling;

/// <summary>
/// Who is using a container right now, asked by idle culling without knowing where sessions live: the web terminal
/// implements it from its live sessions and registers it. Without a terminal module nothing is ever attached.
/// </summary>
public interface IContainerActivity
{
    /// <summary>
    /// The containers (ids as recorded) with a terminal session open now, in this process or another one on the same
    /// database: one answer for a whole culling pass.
    /// </summary>
    ValueTask<IReadOnlySet<string>> ContainersInUseAsync(CancellationToken cancellationToken = default);
}

/// <summary>The default when no module reports sessions (the CLI, or a host without the web terminal).</summary>
internal sealed class NoContainerActivity : IContainerActivity
{
    public ValueTask<IReadOnlySet<string>> ContainersInUseAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult<IReadOnlySet<string>>(new HashSet<string>(StringComparer.Ordinal));
}

/// <summary>One container as idle culling sees it; times are the engine's, CPU is percent of one core (null when not running or unknown).</summary>
internal sealed record EngineActivity(LiveState State, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, double? CpuPercent);
