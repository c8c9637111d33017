using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dockhand.Containers.Engine;

/// <summary>
/// <see cref="IContainerRuntime"/> on a Docker engine, over one negotiated Docker.DotNet client that nothing outside this
/// assembly sees. Every call goes through <see cref="Guard{T}"/> (or, on the terminal's byte path,
/// <see cref="Translate"/> directly): the one place engine errors become <see cref="EngineUnavailableException"/> or
/// <see cref="EngineRefusedException"/>.
/// </summary>
internal sealed partial class DockerContainerRuntime : IContainerRuntime, IDisposable
{
    private readonly ContainerOptions _options;
    private readonly ApiVersionState _version = new();
    private readonly DockerClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public DockerContainerRuntime(ContainerOptions options, TimeProvider? time = null, ILogger<DockerContainerRuntime>? logger = null, Swarm.SwarmTls? tls = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<DockerContainerRuntime>.Instance;
        _client = NegotiatingDockerClient.Build(options.DockerHost, _version, tls);
    }

    public Uri Endpoint => _options.DockerHost;

    public static TimeSpan PingTimeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>The API version in use, once the first request negotiated it.</summary>
    public System.Version? NegotiatedApiVersion => _version.Negotiated;

    /// <summary>The client itself, for this assembly's tests only (they drive the engine around the runtime).</summary>
    internal IDockerClient Client => _client;

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
        catch (EngineException e)
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
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<string>> ListLocalImagesAsync(CancellationToken cancellationToken = default)
    {
        var images = await Guard(() => _client.Images.ListImagesAsync(new ImagesListParameters(), cancellationToken), cancellationToken);
        return [.. images.SelectMany(i => i.RepoTags ?? []).Where(t => !t.StartsWith("<none>", StringComparison.Ordinal) && ImageReference.IsValid(t)).Distinct(StringComparer.Ordinal)];
    }

    public async Task<string?> PullAsync(string image, IProgress<PullProgress>? progress, CancellationToken cancellationToken = default)
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
        catch (EngineRefusedException e)
        {
            return e.Message;
        }
        if (error is not null)
            return OneLine(error);
        return await ImageExistsAsync(image, cancellationToken) ? null : "the engine reported no error but the image is not present";
    }

    public async Task<string?> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var securityOptions = new List<string>();
        if (_options.NoNewPrivileges)
            securityOptions.Add("no-new-privileges:true");
        var parameters = new CreateContainerParameters
        {
            Name = spec.Name,
            Image = spec.Image,
            Cmd = _options.Command.ToList(),
            Hostname = spec.Name.Length <= 63 ? spec.Name : "dockhand",
            Labels = new Dictionary<string, string>(spec.Labels),
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
                NetworkMode = spec.Network,
            },
        };
        if (_options.DiskLimitBytes > 0)
            parameters.HostConfig.StorageOpt = new Dictionary<string, string> { ["size"] = _options.DiskLimitBytes.ToString(CultureInfo.InvariantCulture) };
        if (spec.HomeVolume is not null)
        {
            // A new (empty) named volume is filled with the image's files at the mount path, as `docker run -v` does.
            parameters.HostConfig.Mounts = [new Mount { Type = "volume", Source = spec.HomeVolume, Target = _options.VolumePath }];
        }
        try
        {
            var response = await Guard(() => _client.Containers.CreateContainerAsync(parameters, cancellationToken), cancellationToken);
            return response.ID;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.Conflict)
        {
            return null;
        }
    }

    public Task StartAsync(string containerId, CancellationToken cancellationToken = default)
        => Guard(() => _client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), cancellationToken), cancellationToken);

    public Task StopAsync(string containerId, CancellationToken cancellationToken = default)
        => Guard(() => _client.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = 5 }, cancellationToken), cancellationToken);

    public Task RestartAsync(string containerId, CancellationToken cancellationToken = default)
        => Guard(async () => { await _client.Containers.RestartContainerAsync(containerId, new ContainerRestartParameters { WaitBeforeKillSeconds = 5 }, cancellationToken); return 0; }, cancellationToken);

    public async Task<bool> RemoveAsync(string containerId, CancellationToken cancellationToken = default)
    {
        try
        {
            await Guard(async () => { await _client.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken); return 0; }, cancellationToken);
            return true;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return false;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.Conflict && e.Message.Contains("already in progress", StringComparison.OrdinalIgnoreCase))
        {
            // Another remover got there first; it will be gone in a moment.
            return false;
        }
    }

    public async Task<EngineContainer?> InspectAsync(string containerId, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(containerId) || containerId.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal))
            return null;
        try
        {
            var inspect = await Guard(() => _client.Containers.InspectContainerAsync(containerId, cancellationToken), cancellationToken);
            return new EngineContainer(inspect.ID, inspect.Name.TrimStart('/'), ToLiveState(inspect.State?.Status), ParseTime(inspect.State?.StartedAt),
                ReadOnly(inspect.Config?.Labels), inspect.Config?.Image,
                inspect.Created == default ? null : new DateTimeOffset(DateTime.SpecifyKind(inspect.Created, DateTimeKind.Utc)),
                ParseTime(inspect.State?.FinishedAt));
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<EngineContainer>> ListManagedAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken = default)
    {
        var labelFilter = LabelFilter(labels);
        var list = await Guard(() => _client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labelFilter },
        }, cancellationToken), cancellationToken);
        return list.Select(c => new EngineContainer(c.ID, c.Names?.FirstOrDefault()?.TrimStart('/') ?? "", ToLiveState(c.State), null, ReadOnly(c.Labels))).ToList();
    }

    public async Task<IReadOnlyList<EngineContainer>> ListByIdsAsync(IReadOnlyCollection<string> containerIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(containerIds);
        // The engine matches an id filter as a pattern, so only real ids go in (a pending placeholder names nothing);
        // the answer is then matched exactly by id.
        var ids = containerIds.Where(IsEngineId).Distinct(StringComparer.Ordinal).ToDictionary(id => id, _ => true, StringComparer.Ordinal);
        if (ids.Count == 0)
            return [];
        var list = await Guard(() => _client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["id"] = ids },
        }, cancellationToken), cancellationToken);
        return list.Where(c => ids.ContainsKey(c.ID))
            .Select(c => new EngineContainer(c.ID, c.Names?.FirstOrDefault()?.TrimStart('/') ?? "", ToLiveState(c.State), null, ReadOnly(c.Labels))).ToList();
    }

    /// <summary>A full engine container id: 64 lower-case hex digits.</summary>
    private static bool IsEngineId(string id) => id.Length == 64 && id.All(char.IsAsciiHexDigitLower);

    public async Task<EngineVolume?> InspectVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            var volume = await Guard(() => _client.Volumes.InspectAsync(name, cancellationToken), cancellationToken);
            return new EngineVolume(volume.Name, ReadOnly(volume.Labels));
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    public Task CreateVolumeAsync(string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
        => Guard(() => _client.Volumes.CreateAsync(VolumeParameters(name, labels), cancellationToken), cancellationToken);

    public async Task<EngineVolume> CreateOrGetVolumeAsync(string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        // The engine answers a create of an existing volume (same driver) with that volume and its own labels.
        var volume = await Guard(() => _client.Volumes.CreateAsync(VolumeParameters(name, labels), cancellationToken), cancellationToken);
        return new EngineVolume(volume.Name, ReadOnly(volume.Labels));
    }

    /// <summary>A home volume on CONTAINER_VOLUME_DRIVER with CONTAINER_VOLUME_DRIVER_OPTS (the local driver by default).</summary>
    private VolumesCreateParameters VolumeParameters(string name, IReadOnlyDictionary<string, string> labels) => new()
    {
        Name = name,
        Driver = _options.VolumeDriver.Length > 0 ? _options.VolumeDriver : "local",
        DriverOpts = new Dictionary<string, string>(_options.VolumeDriverOptions),
        Labels = new Dictionary<string, string>(labels),
    };

    public async Task<bool> RemoveVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            await Guard(async () => { await _client.Volumes.RemoveAsync(name, force: false, cancellationToken); return 0; }, cancellationToken);
            return true;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<EngineVolume>> ListVolumesAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken = default)
    {
        var response = await Guard(() => _client.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = LabelFilter(labels) },
        }, cancellationToken), cancellationToken);
        return [.. (response.Volumes ?? []).Select(v => new EngineVolume(v.Name, ReadOnly(v.Labels)))];
    }

    public async Task<EngineNetwork?> InspectNetworkAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            var network = await Guard(() => _client.Networks.InspectNetworkAsync(name, cancellationToken), cancellationToken);
            return new EngineNetwork(network.ID, network.Name, network.Driver ?? "", ReadOnly(network.Labels), ReadOnly(network.Options));
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Creates a bridge network. False when a concurrent creator got there first: the API (before 1.44) does not refuse a
    /// duplicate name, but the fixed bridge interface name does (403 "networks have same bridge name"; 409 on newer
    /// engines). The caller inspects what is there either way.
    /// </summary>
    public async Task<bool> CreateNetworkAsync(string name, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> driverOptions, CancellationToken cancellationToken = default)
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
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.Conflict
            || e.InnerException is DockerApiException { StatusCode: HttpStatusCode.Forbidden } && e.Message.Contains("same bridge name", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
    }

    public async Task<EngineStorage> GetStorageAsync(CancellationToken cancellationToken = default)
    {
        var info = await Guard(() => _client.System.GetSystemInfoAsync(cancellationToken), cancellationToken);
        var backing = info.DriverStatus?.FirstOrDefault(pair => string.Equals(pair.ElementAtOrDefault(0), "Backing Filesystem", StringComparison.OrdinalIgnoreCase))?.ElementAtOrDefault(1);
        return new EngineStorage(info.Driver ?? "", backing);
    }

    private static IReadOnlyDictionary<string, string> ReadOnly(IDictionary<string, string>? labels)
        => labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(labels, StringComparer.Ordinal);

    /// <summary>One stats sample (about a second on a running container); nulls where the engine gives nothing.</summary>
    public async Task<EngineUsage> GetUsageAsync(string containerId, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(4));
        try
        {
            ContainerStatsResponse? sample = null;
            var sink = new SyncProgress<ContainerStatsResponse>(s => sample = s);
            await Guard(async () => { await _client.Containers.GetContainerStatsAsync(containerId, new ContainerStatsParameters { Stream = false }, sink, timeout.Token); return 0; }, cancellationToken);
            if (sample is null)
                return EngineUsage.None;
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
        catch (EngineException)
        {
            return EngineUsage.None;
        }
    }

    public async Task MonitorAsync(IReadOnlyDictionary<string, string> scope, DateTimeOffset since, Func<EngineEvent, Task> onEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onEvent);
        var channel = System.Threading.Channels.Channel.CreateUnbounded<EngineEvent>(new() { SingleReader = true, SingleWriter = true });
        var sink = new SyncProgress<Message>(message =>
        {
            if (message.Type == "container" && message.Actor?.ID is { Length: > 0 } id)
                channel.Writer.TryWrite(new EngineEvent(message.Action ?? "", id, ReadOnly(message.Actor.Attributes)));
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

    public async Task<ContainerPresence> WaitUntilNotRunningAsync(string containerId, TimeSpan interval, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            await Task.Delay(interval, _time, cancellationToken);
            try
            {
                var presence = (await InspectAsync(containerId, cancellationToken)).Presence();
                if (presence != ContainerPresence.Running)
                    return presence;
            }
            catch (EngineException e)
            {
                // E.g. the engine is briefly unreachable: a shell that died shows on its own stream; keep looking.
                LogPollFailed(_logger, containerId, e.Message);
            }
        }
    }

    /// <summary>Uses the archive stat API (<c>HEAD …/archive</c>), which needs no shell in the container.</summary>
    public async Task<bool> PathExistsAsync(string containerId, string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await Guard(() => _client.Containers.GetArchiveFromContainerAsync(containerId, new ContainerPathStatParameters { Path = path }, statOnly: true, cancellationToken), cancellationToken);
            response.Stream?.Dispose();
            return true;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            // No such path (or no such container: starting anything in it then says so).
            return false;
        }
    }

    public async Task<IShellProcess> StartShellAsync(string containerId, ShellSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var marker = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var created = await Guard(() => _client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
        {
            Cmd = [spec.Shell],
            TTY = true,
            AttachStdin = true,
            AttachStdout = true,
            AttachStderr = true,
            Env = [.. spec.Environment, $"{DockerShellProcess.MarkerVariable}={marker}"],
        }, cancellationToken), cancellationToken);
        var stream = await Guard(() => _client.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { TTY = true, Detach = false }, cancellationToken), cancellationToken);
        return new DockerShellProcess(this, containerId, created.ID, spec.Shell, marker, stream, _logger);
    }

    /// <summary>Exec-inspect: null when the exec (or its container) no longer exists.</summary>
    internal async Task<ShellState?> InspectExecAsync(string execId, CancellationToken cancellationToken)
    {
        try
        {
            var inspect = await Guard(() => _client.Exec.InspectContainerExecAsync(execId, cancellationToken), cancellationToken);
            // The engine sets a pid only once the process has started; a start it gave up on keeps pid 0.
            return new ShellState(inspect.Running, inspect.Running ? null : inspect.ExitCode, inspect.Running || inspect.Pid != 0);
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    internal Task ResizeExecAsync(string execId, int columns, int rows, CancellationToken cancellationToken)
        => Guard(async () => { await _client.Exec.ResizeExecTtyAsync(execId, new ContainerResizeParameters { Width = columns, Height = rows }, cancellationToken); return 0; }, cancellationToken);

    /// <summary>Runs <paramref name="command"/> in the container without a TTY and waits (bounded) until its output ends.</summary>
    internal async Task RunToEndAsync(string containerId, IList<string> command, TimeSpan limit, CancellationToken cancellationToken)
    {
        var created = await Guard(() => _client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
        {
            Cmd = command,
            AttachStdout = true,
            AttachStderr = true,
        }, cancellationToken), cancellationToken);
        using var stream = await Guard(() => _client.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { Detach = false }, cancellationToken), cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        await Guard(() => stream.ReadOutputToEndAsync(timeout.Token), cancellationToken);
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

    /// <summary>Runs one engine call and translates its failure (<see cref="Translate"/>).</summary>
    private async Task<T> Guard<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (Translate(e, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// THE translation of engine failures: an API error becomes <see cref="EngineRefusedException"/> with the engine's
    /// own message; a transport failure (refused, reset, timed out, or cancelled by anything but the caller) becomes
    /// <see cref="EngineUnavailableException"/>. Null for anything else (the caller's cancellation, a bug), which passes through.
    /// </summary>
    internal Exception? Translate(Exception e, CancellationToken cancellationToken) => e switch
    {
        EngineException => null,
        DockerApiException api => new EngineRefusedException(EngineMessage(api), api.StatusCode switch
        {
            HttpStatusCode.NotFound => EngineRefusal.NotFound,
            HttpStatusCode.Conflict => EngineRefusal.Conflict,
            _ => EngineRefusal.Other,
        }, api),
        _ when IsTransportFailure(e, cancellationToken) => new EngineUnavailableException($"{Describe(e)} at {_options.DockerHost}", e),
        _ => null,
    };

    private static bool IsTransportFailure(Exception e, CancellationToken cancellationToken) => e switch
    {
        EngineException => false,
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

    public void Dispose()
    {
        _client.Dispose();
        // After the client: no request of its can still be negotiating.
        _version.Dispose();
    }

    [LoggerMessage(EventId = 2070, Level = LogLevel.Warning, Message = "Could not check whether container {ContainerId} still runs ({Reason}); checking again")]
    private static partial void LogPollFailed(ILogger logger, string containerId, string reason);

    /// <summary>Reports synchronously and in order (Progress&lt;T&gt; posts to the thread pool and can reorder).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
