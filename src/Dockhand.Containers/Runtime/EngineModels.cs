namespace Dockhand.Containers;

/// <summary>What <see cref="IContainerRuntime.PingAsync"/> found, for <c>GET /health</c> and <c>dockhand doctor</c>.</summary>
public sealed record EngineHealth(bool Reachable, string Endpoint, string? ApiVersion, string? ServerApiVersion, string? Error);

/// <summary>What the engine says about one container.</summary>
/// <param name="Image">The image as named when the container was created (inspect only; null from a list).</param>
/// <param name="CreatedAt">When the container was created (inspect only; null from a list).</param>
/// <param name="FinishedAt">When it last stopped (inspect only; null from a list, or when it never stopped).</param>
/// <param name="Placement">Where a Swarm task runs (inspect only, Swarm backend only); null for a plain engine's container.</param>
public sealed record EngineContainer(string Id, string Name, LiveState State, DateTimeOffset? StartedAt, IReadOnlyDictionary<string, string> Labels,
    string? Image = null, DateTimeOffset? CreatedAt = null, DateTimeOffset? FinishedAt = null, TaskPlacement? Placement = null)
{
    /// <summary>Running as far as a shell in it is concerned: paused and restarting containers still count.</summary>
    public bool IsRunning => State is LiveState.Running or LiveState.Paused or LiveState.Restarting;

    /// <summary>The <c>dockhand.owner</c> label, when the container carries one.</summary>
    public string? OwnerLabel => Labels.TryGetValue(ContainerLabels.Owner, out var owner) ? owner : null;

    /// <summary>The name users gave it (the <c>dockhand.name</c> label), else the engine's name.</summary>
    public string DisplayName => Labels.TryGetValue(ContainerLabels.Name, out var name) ? name : Name;
}

/// <summary>
/// Where a Swarm service's current task is, for <c>status</c>: its node (hostname, or the node the service is pinned to
/// while no task has one), that node's state as the manager sees it (ready, down, unknown, disconnected) and the task's own
/// state as the Swarm names it (running, pending, shutdown, …).
/// </summary>
/// <param name="TaskError">The task's error, when it has one (for operators: the CLI shows it, Discord does not).</param>
public sealed record TaskPlacement(string Node, string NodeState, string TaskState, string? TaskError)
{
    public bool NodeReady => NodeState == "ready";
}

/// <summary>Whether a container runs, as far as a terminal cares.</summary>
public enum ContainerPresence
{
    Running,
    Stopped,
    Gone,
}

public static class ContainerPresenceExtensions
{
    /// <summary>The presence of an inspected container (null: gone).</summary>
    public static ContainerPresence Presence(this EngineContainer? container)
        => container is null ? ContainerPresence.Gone : container.IsRunning ? ContainerPresence.Running : ContainerPresence.Stopped;
}

/// <summary>A named volume on the engine, with its labels.</summary>
public sealed record EngineVolume(string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>A network on the engine, reduced to what the isolation check reads.</summary>
public sealed record EngineNetwork(string Id, string Name, string Driver, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, string> Options);

/// <summary>What the engine reports about its storage (<c>GET /info</c>: Driver, DriverStatus "Backing Filesystem").</summary>
public sealed record EngineStorage(string Driver, string? BackingFilesystem)
{
    public override string ToString() => BackingFilesystem is { Length: > 0 } fs ? $"{Driver} on {fs}" : Driver;
}

/// <summary>Usage figures from one stats sample.</summary>
public sealed record EngineUsage(double? CpuPercent, ulong? MemoryUsageBytes, ulong? MemoryLimitBytes)
{
    public static EngineUsage None { get; } = new(null, null, null);
}

/// <summary>A container event from the engine's stream, reduced to what reconciliation needs.</summary>
public sealed record EngineEvent(string Action, string ContainerId, IReadOnlyDictionary<string, string> Labels);

/// <summary>A container to create: the runtime adds the hardening (limits, capabilities, init, restart policy) from <see cref="ContainerOptions"/>.</summary>
/// <param name="HomeVolume">A named volume to mount at CONTAINER_VOLUME_PATH, or null.</param>
/// <param name="Network">A network name, or "none".</param>
public sealed record ContainerSpec(string Name, string Image, IReadOnlyDictionary<string, string> Labels, string? HomeVolume, string Network);

/// <summary>A shell to start with a TTY: its path and extra environment (<c>NAME=value</c>).</summary>
public sealed record ShellSpec(string Shell, IReadOnlyList<string> Environment);

/// <summary>What the engine says about a shell process.</summary>
/// <param name="Started">
/// False when the engine never started the process (it then reports exit code 126): for example because its container
/// was being stopped or removed at that moment, or the shell is not in the image.
/// </param>
public sealed record ShellState(bool Running, long? ExitCode, bool Started);
