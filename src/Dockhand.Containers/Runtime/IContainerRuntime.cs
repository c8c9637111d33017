namespace Dockhand.Containers;

/// <summary>
/// Every call Dockhand makes to the thing that runs containers: the ONE way to the engine. The Docker implementation
/// (<c>DockerContainerRuntime</c>, internal) is registered by <see cref="ContainersServiceCollectionExtensions.AddDockhandContainerRuntime"/>;
/// the rules (<see cref="ContainerService"/>), the reconciler and the web terminal know only this interface, so another
/// implementation (Swarm services) can stand in without them changing.
/// <para>
/// Arguments and results are this module's own records; no engine client type crosses it. Failures come as
/// <see cref="EngineUnavailableException"/> (the engine could not be reached or did not answer in time) or
/// <see cref="EngineRefusedException"/> (it answered and said no); each message is one line. Methods that look
/// something up answer null (or false) for "not there" instead of throwing.
/// </para>
/// </summary>
public interface IContainerRuntime
{
    /// <summary>Where the engine is (DOCKER_HOST), for messages and <c>dockhand doctor</c>.</summary>
    Uri Endpoint { get; }

    /// <summary>A bounded health probe for <c>GET /health</c> and <c>dockhand doctor</c>. Never throws for an unreachable engine.</summary>
    Task<EngineHealth> PingAsync(CancellationToken cancellationToken = default);

    /// <summary>The engine's storage driver and the file system under it (can a disk limit be enforced?).</summary>
    Task<EngineStorage> GetStorageAsync(CancellationToken cancellationToken = default);

    Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken = default);

    /// <summary>The tags of the engine's local images (untagged images and tags Dockhand would refuse are left out).</summary>
    Task<IReadOnlyList<string>> ListLocalImagesAsync(CancellationToken cancellationToken = default);

    /// <summary>Pulls <paramref name="image"/>. Null on success, otherwise the engine's reason in one line.</summary>
    Task<string?> PullAsync(string image, IProgress<PullProgress>? progress, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates the container (not started) with Dockhand's hardened settings from <see cref="ContainerOptions"/>.
    /// Null when the name is taken on the engine.
    /// </summary>
    Task<string?> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default);

    Task StartAsync(string containerId, CancellationToken cancellationToken = default);

    Task StopAsync(string containerId, CancellationToken cancellationToken = default);

    Task RestartAsync(string containerId, CancellationToken cancellationToken = default);

    /// <summary>Force-removes the container. True when removed, false when it was already gone (or going).</summary>
    Task<bool> RemoveAsync(string containerId, CancellationToken cancellationToken = default);

    /// <summary>The container, or null when the engine has none with that id (or the id is a pending placeholder).</summary>
    Task<EngineContainer?> InspectAsync(string containerId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every container with Dockhand's labels (and the configured extra labels), plus <paramref name="labels"/>.
    /// Without an instance label this includes other instances' containers: callers scope the result by instance.
    /// </summary>
    Task<IReadOnlyList<EngineContainer>> ListManagedAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken = default);

    /// <summary>
    /// The containers among <paramref name="containerIds"/> that the engine has, labelled or not, without start times
    /// (as <see cref="ListManagedAsync"/>). For a page of records: the cost follows the ids asked for, not every
    /// container. This default inspects each id; a runtime that can filter a list by id does it in one call.
    /// </summary>
    async Task<IReadOnlyList<EngineContainer>> ListByIdsAsync(IReadOnlyCollection<string> containerIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(containerIds);
        var found = await Task.WhenAll(containerIds.Select(id => InspectAsync(id, cancellationToken)));
        return [.. found.OfType<EngineContainer>()];
    }

    /// <summary>One usage sample; nulls where the engine gives nothing (or does not answer in a few seconds).</summary>
    Task<EngineUsage> GetUsageAsync(string containerId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams events of managed containers in <paramref name="scope"/>, replaying those since <paramref name="since"/>,
    /// until cancelled or the stream breaks.
    /// </summary>
    Task MonitorAsync(IReadOnlyDictionary<string, string> scope, DateTimeOffset since, Func<EngineEvent, Task> onEvent, CancellationToken cancellationToken = default);

    /// <summary>
    /// Completes when the container is no longer running (stopped or gone), checking every <paramref name="interval"/>;
    /// a check the engine does not answer is logged and tried again at the next interval. For a live terminal session.
    /// </summary>
    Task<ContainerPresence> WaitUntilNotRunningAsync(string containerId, TimeSpan interval, CancellationToken cancellationToken = default);

    Task<EngineVolume?> InspectVolumeAsync(string name, CancellationToken cancellationToken = default);

    Task CreateVolumeAsync(string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default);

    /// <summary>
    /// The named volume: made with <paramref name="labels"/> when the engine has none of that name, otherwise the one it
    /// has, with its own labels (the caller tells the two apart by a label only a new one carries). This default asks
    /// twice (inspect, then create); the Docker engine answers a create of an existing local volume with that volume, so
    /// its runtime asks once.
    /// </summary>
    async Task<EngineVolume> CreateOrGetVolumeAsync(string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        if (await InspectVolumeAsync(name, cancellationToken) is { } existing)
            return existing;
        await CreateVolumeAsync(name, labels, cancellationToken);
        return new EngineVolume(name, labels);
    }

    /// <summary>True when removed, false when it was already gone.</summary>
    Task<bool> RemoveVolumeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Named volumes with Dockhand's labels (and the configured extras), plus <paramref name="labels"/>.</summary>
    Task<IReadOnlyList<EngineVolume>> ListVolumesAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken = default);

    Task<EngineNetwork?> InspectNetworkAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Creates an isolated network. False when a concurrent creator got there first (inspect what is there).</summary>
    Task<bool> CreateNetworkAsync(string name, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> driverOptions, CancellationToken cancellationToken = default);

    /// <summary>Whether <paramref name="path"/> exists in the container's file system (asked without running anything in it).</summary>
    Task<bool> PathExistsAsync(string containerId, string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts <paramref name="spec"/>'s shell in the container with a TTY and attaches to it. The returned session
    /// owns the process: <see cref="IShellProcess.EndAsync"/> makes sure it (and everything it started) has ended.
    /// </summary>
    Task<IShellProcess> StartShellAsync(string containerId, ShellSpec spec, CancellationToken cancellationToken = default);
}

/// <summary>
/// A shell running in a container with a TTY, attached: the byte stream both ways, resizing, and its end. Reads and
/// writes go straight to the engine's connection (no copy, no extra buffer); one reader and one writer at a time.
/// </summary>
public interface IShellProcess : IAsyncDisposable
{
    /// <summary>The engine's id of this process (tests and logs).</summary>
    string Id { get; }

    /// <summary>Reads TTY output into <paramref name="buffer"/>; 0 when the output has ended.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes keyboard input to the TTY.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> input, CancellationToken cancellationToken = default);

    Task ResizeAsync(int columns, int rows, CancellationToken cancellationToken = default);

    /// <summary>Whether it still runs and its exit code; null when the engine no longer knows it (or its container).</summary>
    Task<ShellState?> InspectAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes the stream and makes sure the process and its children have ended, ending them if they have not.
    /// True when they have; false when they survived every attempt (logged).
    /// </summary>
    Task<bool> EndAsync(CancellationToken cancellationToken = default);
}
