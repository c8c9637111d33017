using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Dockhand.Containers.Engine;

/// <summary>The engine could not be reached or did not answer. <see cref="Exception.Message"/> is one line.</summary>
public sealed class EngineUnavailableException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>What <see cref="ContainerEngine.PingAsync"/> found, for <c>GET /health</c> and <c>dockhand doctor</c>.</summary>
public sealed record EngineHealth(bool Reachable, string Endpoint, string? ApiVersion, string? ServerApiVersion, string? Error);

/// <summary>What the engine says about one container.</summary>
public sealed record EngineContainer(string Id, string Name, LiveState State, DateTimeOffset? StartedAt, IReadOnlyDictionary<string, string> Labels);

/// <summary>A named volume on the engine, with its labels.</summary>
public sealed record EngineVolume(string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>Usage figures from one stats sample.</summary>
public sealed record EngineUsage(double? CpuPercent, ulong? MemoryUsageBytes, ulong? MemoryLimitBytes);

/// <summary>A container event from the engine's stream, reduced to what reconciliation needs.</summary>
public sealed record EngineEvent(string Action, string ContainerId, IReadOnlyDictionary<string, string> Labels);

/// <summary>Everything Dockhand asks of Docker, over one negotiated <see cref="IDockerClient"/>.</summary>
public sealed class ContainerEngine : IDisposable
{
    private readonly ContainerOptions _options;
    private readonly ApiVersionState _version = new();
    private readonly DockerClient _client;

    public ContainerEngine(ContainerOptions options)
    {
        _options = options;
        _client = NegotiatingDockerClient.Build(options.DockerHost, _version);
    }

    /// <summary>The negotiated client. Other modules (the web terminal's <c>docker exec</c>) use it directly.</summary>
    public IDockerClient Client => _client;

    public Uri Endpoint => _options.DockerHost;

    public static TimeSpan PingTimeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>The API version in use, once the first request negotiated it.</summary>
    public System.Version? NegotiatedApiVersion => _version.Negotiated;

    /// <summary>
    /// A cheap health check: <c>GET /_ping</c> plus one versioned call (which negotiates the first time), bounded by
    /// <see cref="PingTimeout"/> so a black-holed DOCKER_HOST answers "unreachable" instead of hanging.
    /// </summary>
    public async Task<EngineHealth> PingAsync(CancellationToken cancellationToken = default)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(PingTimeout);
        try
        {
            await Guard(async () => { await _client.System.PingAsync(bounded.Token); return 0; }, cancellationToken);
            await Guard(() => _client.Containers.ListContainersAsync(new ContainersListParameters { Limit = 1 }, bounded.Token), cancellationToken);
            return new EngineHealth(true, Endpoint.ToString(), _version.Negotiated?.ToString(2), _version.ServerVersion?.ToString(2), null);
        }
        catch (EngineUnavailableException e)
        {
            return new EngineHealth(false, Endpoint.ToString(), null, null, e.Message);
        }
    }

    public async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken = default)
    {
        try
        {
            await Guard(() => _client.Images.InspectImageAsync(image, cancellationToken), cancellationToken);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The tags of the engine's local images (untagged images and tags Dockhand would refuse are left out).</summary>
    public async Task<IReadOnlyList<string>> ListLocalImagesAsync(CancellationToken cancellationToken = default)
    {
        var images = await Guard(() => _client.Images.ListImagesAsync(new ImagesListParameters(), cancellationToken), cancellationToken);
        return [.. images.SelectMany(i => i.RepoTags ?? []).Where(t => !t.StartsWith("<none>", StringComparison.Ordinal) && ImageReference.IsValid(t)).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Pulls <paramref name="image"/>. Returns null on success, otherwise the engine's reason in one line.</summary>
    internal async Task<string?> PullAsync(string image, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var (repository, tag) = ImageReference.Split(image);
        string? error = null;
        var sink = new SyncProgress<JSONMessage>(message =>
        {
            if (message.Error?.Message is { Length: > 0 } failure)
                error = failure;
            else if (progress is not null && message.Status is { Length: > 0 } status)
                progress.Report(new PullProgress(image, string.IsNullOrEmpty(message.ID) ? status : $"{message.ID}: {status}", message.Progress?.Current, message.Progress?.Total));
        });
        try
        {
            await Guard(async () =>
            {
                await _client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null, sink, cancellationToken);
                return 0;
            }, cancellationToken);
        }
        catch (DockerApiException e)
        {
            return EngineMessage(e);
        }
        if (error is not null)
            return OneLine(error);
        return await ImageExistsAsync(image, cancellationToken) ? null : "the engine reported no error but the image is not present";
    }

    /// <summary>
    /// Creates the container (not started) on <paramref name="network"/> (a network name, or "none"). A 409 means the
    /// Docker name is taken: returns null.
    /// </summary>
    internal async Task<string?> CreateAsync(string name, string image, IReadOnlyDictionary<string, string> labels, string? homeVolume, string network, CancellationToken cancellationToken)
    {
        var securityOptions = new List<string>();
        if (_options.NoNewPrivileges)
            securityOptions.Add("no-new-privileges:true");
        var parameters = new CreateContainerParameters
        {
            Name = name,
            Image = image,
            Cmd = _options.Command.ToList(),
            Hostname = name.Length <= 63 ? name : "dockhand",
            Labels = new Dictionary<string, string>(labels),
            Tty = false,
            HostConfig = new HostConfig
            {
                Init = true,
                Memory = _options.MemoryLimitBytes,
                // Swap equal to memory: no extra swap beyond the limit.
                MemorySwap = _options.MemoryLimitBytes,
                NanoCPUs = _options.NanoCpus,
                PidsLimit = _options.PidsLimit == 0 ? null : _options.PidsLimit,
                CapDrop = ["ALL"],
                CapAdd = _options.CapAdd.ToList(),
                SecurityOpt = securityOptions,
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.UnlessStopped },
                NetworkMode = network,
            },
        };
        if (_options.DiskLimitBytes > 0)
            parameters.HostConfig.StorageOpt = new Dictionary<string, string> { ["size"] = _options.DiskLimitBytes.ToString(CultureInfo.InvariantCulture) };
        if (homeVolume is not null)
        {
            // A new (empty) named volume is filled with the image's files at the mount path, as `docker run -v` does.
            parameters.HostConfig.Mounts = [new Mount { Type = "volume", Source = homeVolume, Target = _options.VolumePath }];
        }
        try
        {
            var response = await Guard(() => _client.Containers.CreateContainerAsync(parameters, cancellationToken), cancellationToken);
            return response.ID;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            return null;
        }
    }

    internal Task StartAsync(string id, CancellationToken cancellationToken)
        => Guard(() => _client.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken), cancellationToken);

    internal Task StopAsync(string id, CancellationToken cancellationToken)
        => Guard(() => _client.Containers.StopContainerAsync(id, new ContainerStopParameters { WaitBeforeKillSeconds = 5 }, cancellationToken), cancellationToken);

    internal Task RestartAsync(string id, CancellationToken cancellationToken)
        => Guard(async () => { await _client.Containers.RestartContainerAsync(id, new ContainerRestartParameters { WaitBeforeKillSeconds = 5 }, cancellationToken); return 0; }, cancellationToken);

    /// <summary>Force-removes the container. True when it was removed, false when it was already gone.</summary>
    internal async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await Guard(async () => { await _client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken); return 0; }, cancellationToken);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return false;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict && (e.ResponseBody ?? "").Contains("already in progress", StringComparison.OrdinalIgnoreCase))
        {
            // Another remover got there first; it will be gone in a moment.
            return false;
        }
    }

    /// <summary>The container, or null when the engine has none with that id.</summary>
    internal async Task<EngineContainer?> InspectAsync(string id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(id) || id.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
            return null;
        try
        {
            var inspect = await Guard(() => _client.Containers.InspectContainerAsync(id, cancellationToken), cancellationToken);
            return new EngineContainer(inspect.ID, inspect.Name.TrimStart('/'), ToLiveState(inspect.State?.Status), ParseTime(inspect.State?.StartedAt),
                (IReadOnlyDictionary<string, string>?)inspect.Config?.Labels?.AsReadOnly() ?? new Dictionary<string, string>());
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Every container with Dockhand's labels (and the configured extra labels), plus <paramref name="extraFilters"/>.
    /// Without an instance label in <paramref name="extraFilters"/> this includes other instances' containers: callers
    /// that act on the result scope it by instance (ContainerService, Reconciler).
    /// </summary>
    internal async Task<IReadOnlyList<EngineContainer>> ListManagedAsync(IReadOnlyDictionary<string, string>? extraFilters, CancellationToken cancellationToken)
    {
        var labelFilter = LabelFilter(extraFilters);
        var list = await Guard(() => _client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labelFilter },
        }, cancellationToken), cancellationToken);
        return list.Select(c => new EngineContainer(c.ID, c.Names?.FirstOrDefault()?.TrimStart('/') ?? "", ToLiveState(c.State), null,
            (IReadOnlyDictionary<string, string>?)c.Labels?.AsReadOnly() ?? new Dictionary<string, string>())).ToList();
    }

    /// <summary>The named volume, or null when the engine has none by that name.</summary>
    internal async Task<EngineVolume?> InspectVolumeAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var volume = await Guard(() => _client.Volumes.InspectAsync(name, cancellationToken), cancellationToken);
            return new EngineVolume(volume.Name, ReadOnly(volume.Labels));
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Creates a named local volume with <paramref name="labels"/>.</summary>
    internal Task CreateVolumeAsync(string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
        => Guard(() => _client.Volumes.CreateAsync(new VolumesCreateParameters { Name = name, Driver = "local", Labels = new Dictionary<string, string>(labels) }, cancellationToken), cancellationToken);

    /// <summary>Removes the named volume. True when removed, false when it was already gone.</summary>
    internal async Task<bool> RemoveVolumeAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await Guard(async () => { await _client.Volumes.RemoveAsync(name, force: false, cancellationToken); return 0; }, cancellationToken);
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Named volumes with Dockhand's labels (and the configured extras), plus <paramref name="labels"/>.</summary>
    internal async Task<IReadOnlyList<EngineVolume>> ListVolumesAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken)
    {
        var response = await Guard(() => _client.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = LabelFilter(labels) },
        }, cancellationToken), cancellationToken);
        return [.. (response.Volumes ?? []).Select(v => new EngineVolume(v.Name, ReadOnly(v.Labels)))];
    }

    /// <summary>The network, or null when the engine has none by that name (or id).</summary>
    internal async Task<EngineNetwork?> InspectNetworkAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var network = await Guard(() => _client.Networks.InspectNetworkAsync(name, cancellationToken), cancellationToken);
            return new EngineNetwork(network.ID, network.Name, network.Driver ?? "", ReadOnly(network.Labels), ReadOnly(network.Options));
        }
        catch (DockerNetworkNotFoundException)
        {
            return null;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Creates a bridge network. False when a concurrent creator got there first: the API (before 1.44) does not refuse a
    /// duplicate name, but the fixed bridge interface name does (403 "networks have same bridge name"; 409 on newer
    /// engines). The caller inspects what is there either way.
    /// </summary>
    internal async Task<bool> CreateNetworkAsync(string name, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> driverOptions, CancellationToken cancellationToken)
    {
        try
        {
            await Guard(() => _client.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = name,
                Driver = "bridge",
                Labels = new Dictionary<string, string>(labels),
                Options = new Dictionary<string, string>(driverOptions),
            }, cancellationToken), cancellationToken);
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict
            || e.StatusCode == HttpStatusCode.Forbidden && (e.ResponseBody ?? "").Contains("same bridge name", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
    }

    /// <summary>The engine's storage driver and the file system under it (<c>GET /info</c>).</summary>
    public async Task<EngineStorage> GetStorageAsync(CancellationToken cancellationToken = default)
    {
        var info = await Guard(() => _client.System.GetSystemInfoAsync(cancellationToken), cancellationToken);
        var backing = info.DriverStatus?.FirstOrDefault(pair => string.Equals(pair.ElementAtOrDefault(0), "Backing Filesystem", StringComparison.OrdinalIgnoreCase))?.ElementAtOrDefault(1);
        return new EngineStorage(info.Driver ?? "", backing);
    }

    private static IReadOnlyDictionary<string, string> ReadOnly(IDictionary<string, string>? labels)
        => labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(labels, StringComparer.Ordinal);

    /// <summary>One stats sample (about a second on a running container); nulls where the engine gives nothing.</summary>
    internal async Task<EngineUsage> GetUsageAsync(string id, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(4));
        try
        {
            ContainerStatsResponse? sample = null;
            var sink = new SyncProgress<ContainerStatsResponse>(s => sample = s);
            await _client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = false }, sink, timeout.Token);
            if (sample is null)
                return new EngineUsage(null, null, null);
            double? cpu = null;
            if (sample.CPUStats?.CPUUsage is { } now && sample.PreCPUStats?.CPUUsage is { } before
                && sample.CPUStats.SystemUsage is { } system && sample.PreCPUStats.SystemUsage is { } systemBefore && system > systemBefore)
            {
                var online = sample.CPUStats.OnlineCPUs is > 0 ? sample.CPUStats.OnlineCPUs.Value : (uint)(now.PercpuUsage?.Count ?? 1);
                cpu = (double)(now.TotalUsage - Math.Min(now.TotalUsage, before.TotalUsage)) / (system - systemBefore) * online * 100.0;
            }
            var memory = sample.MemoryStats?.Usage;
            if (memory is not null && sample.MemoryStats!.Stats is { } stats && stats.TryGetValue("inactive_file", out var inactive))
                memory -= Math.Min(memory.Value, inactive);
            return new EngineUsage(cpu, memory, sample.MemoryStats?.Limit);
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new EngineUsage(null, null, null);
        }
    }

    /// <summary>
    /// What idle culling needs of one container (<see cref="Culling.IdleCuller"/>): its state, when it last started and
    /// stopped, and, when running, its CPU use from one stats sample (stream=false: the engine fills precpu_stats from a
    /// sample about a second earlier, so the delta is Docker's own CPU %). Null when the engine has no such container.
    /// </summary>
    internal async Task<Culling.EngineActivity?> GetActivityAsync(string id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(id) || id.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
            return null;
        ContainerInspectResponse inspect;
        try
        {
            inspect = await Guard(() => _client.Containers.InspectContainerAsync(id, cancellationToken), cancellationToken);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
        var state = ToLiveState(inspect.State?.Status);
        var cpu = state == LiveState.Running ? (await GetUsageAsync(id, cancellationToken)).CpuPercent : null;
        return new Culling.EngineActivity(state, ParseTime(inspect.State?.StartedAt), ParseTime(inspect.State?.FinishedAt), cpu);
    }

    /// <summary>
    /// Streams container events for managed containers in <paramref name="scope"/>, starting with those since
    /// <paramref name="since"/> (the engine replays them), until <paramref name="cancellationToken"/> ends or the stream breaks.
    /// </summary>
    internal async Task MonitorAsync(IReadOnlyDictionary<string, string> scope, DateTimeOffset since, Func<EngineEvent, Task> onEvent, CancellationToken cancellationToken)
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<EngineEvent>(new() { SingleReader = true, SingleWriter = true });
        var sink = new SyncProgress<Message>(message =>
        {
            if (message.Type == "container" && message.Actor?.ID is { Length: > 0 } id)
                channel.Writer.TryWrite(new EngineEvent(message.Action ?? "", id,
                    (IReadOnlyDictionary<string, string>?)message.Actor.Attributes?.AsReadOnly() ?? new Dictionary<string, string>()));
        });
        var parameters = new ContainerEventsParameters
        {
            Since = since.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["label"] = LabelFilter(scope),
            },
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = Task.Run(async () =>
        {
            try
            {
                await Guard(async () => { await _client.System.MonitorEventsAsync(parameters, sink, stop.Token); return 0; }, stop.Token);
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken))
                await onEvent(item);
        }
        finally
        {
            // A failing handler must not leave the event stream open behind it.
            await stop.CancelAsync();
            try
            {
                await pump;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    private Dictionary<string, bool> LabelFilter(IReadOnlyDictionary<string, string>? extra)
    {
        var filter = new Dictionary<string, bool> { [$"{ContainerLabels.Managed}=true"] = true };
        foreach (var (key, value) in _options.ExtraLabels)
            filter[$"{key}={value}"] = true;
        if (extra is not null)
            foreach (var (key, value) in extra)
                filter[$"{key}={value}"] = true;
        return filter;
    }

    internal static LiveState ToLiveState(string? status) => status?.ToLowerInvariant() switch
    {
        "created" => LiveState.Created,
        "running" => LiveState.Running,
        "paused" => LiveState.Paused,
        "restarting" => LiveState.Restarting,
        "exited" => LiveState.Exited,
        "dead" or "removing" => LiveState.Dead,
        _ => LiveState.Dead,
    };

    private static DateTimeOffset? ParseTime(string? text)
        => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) && time.Year > 1 ? time : null;

    /// <summary>The engine's own message from an error body, in one line.</summary>
    internal static string EngineMessage(DockerApiException e)
    {
        try
        {
            using var json = JsonDocument.Parse(e.ResponseBody ?? "");
            if (json.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
                return OneLine(text);
        }
        catch (JsonException)
        {
        }
        return $"HTTP {(int)e.StatusCode}";
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>Turns transport failures into <see cref="EngineUnavailableException"/>; API errors pass through.</summary>
    private async Task<T> Guard<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (IsTransportFailure(e, cancellationToken))
        {
            throw new EngineUnavailableException($"{Describe(e)} at {_options.DockerHost}", e);
        }
    }

    private static bool IsTransportFailure(Exception e, CancellationToken cancellationToken) => e switch
    {
        EngineUnavailableException => false,
        DockerApiException => false,
        HttpRequestException or SocketException or IOException or TimeoutException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        AggregateException aggregate => aggregate.InnerExceptions.Any(inner => IsTransportFailure(inner, cancellationToken)),
        _ => false,
    };

    private static string Describe(Exception e)
    {
        var innermost = e;
        while (innermost.InnerException is not null)
            innermost = innermost.InnerException;
        return innermost switch
        {
            SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
            SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.HostNotFound } => "no such host or socket",
            SocketException s when s.SocketErrorCode == SocketError.AddressFamilyNotSupported || s.Message.Contains("No such file", StringComparison.Ordinal) => "no socket",
            OperationCanceledException or TimeoutException => "no answer in time",
            _ => OneLine(innermost.Message).TrimEnd('.'),
        };
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Reports synchronously and in order (Progress&lt;T&gt; posts to the thread pool and can reorder).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
