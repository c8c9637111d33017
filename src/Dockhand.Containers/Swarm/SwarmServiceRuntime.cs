using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TaskState = Docker.DotNet.Models.TaskState;

namespace Dockhand.Containers.Swarm;

/// <summary>
/// <see cref="IContainerRuntime"/> on a Docker Swarm (CONTAINER_BACKEND=swarm): one replicated service per owner, with
/// replicas 1 while it runs and 0 while it is stopped. The "container id" the rest of Dockhand records is the SERVICE id;
/// this class finds the service's current task, its node and its container whenever a call needs them.
/// <list type="bullet">
/// <item>Placement: the service is pinned (<c>node.hostname==…</c>) to the node that holds the owner's home volume,
/// chosen when the home is made as the ready, active node with an endpoint that runs the fewest Dockhand services.</item>
/// <item>Create makes the service with 0 replicas; <see cref="StartAsync"/> scales it to 1 and waits until the task runs,
/// turning a task the Swarm cannot place or start into a one-sentence refusal.</item>
/// <item>Exec, file checks, stats and volumes go to the node's own engine (<see cref="SwarmNodeEngines"/>): the manager
/// cannot reach a container on another node.</item>
/// </list>
/// Service calls go to the manager (DOCKER_HOST) through the plain backend's client and error translation.
/// </summary>
internal sealed partial class SwarmServiceRuntime : IContainerRuntime, IDisposable
{
    /// <summary>The label that names the node a service is pinned to (counted when choosing a node for the next one).</summary>
    public const string NodeLabel = "dockhand.node";

    private readonly ContainerOptions _options;
    private readonly DockerContainerRuntime _manager;
    private readonly SwarmNodeEngines _nodes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    // Two creates in this process must not both see the same "emptiest" node before either has made its home.
    private readonly SemaphoreSlim _placement = new(1, 1);
    // Labels of services seen, so that a remove event (which carries only the name) can still say whose it was.
    private readonly Dictionary<string, IReadOnlyDictionary<string, string>> _labelsSeen = new(StringComparer.Ordinal);
    private readonly Lock _labelsLock = new();

    public SwarmServiceRuntime(ContainerOptions options, SwarmSettings settings, TimeProvider? time = null, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(settings);
        _options = options;
        _time = time ?? TimeProvider.System;
        loggers ??= NullLoggerFactory.Instance;
        _logger = loggers.CreateLogger<SwarmServiceRuntime>();
        _manager = new DockerContainerRuntime(options, _time, loggers.CreateLogger<DockerContainerRuntime>());
        _nodes = new SwarmNodeEngines(options, settings, _time, loggers);
    }

    /// <summary>How long <see cref="StartAsync"/> and <see cref="RestartAsync"/> wait for the task to run.</summary>
    public TimeSpan TaskStartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>How often task state is polled while waiting (the Swarm has no "wait" call for tasks).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(150);

    public Uri Endpoint => _manager.Endpoint;

    private IDockerClient Client => _manager.Client;

    public Task<EngineHealth> PingAsync(CancellationToken cancellationToken = default) => _manager.PingAsync(cancellationToken);

    public Task<EngineStorage> GetStorageAsync(CancellationToken cancellationToken = default) => _manager.GetStorageAsync(cancellationToken);

    // --- images: they live on the nodes, not the manager ------------------------------------------------------------

    public async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken = default)
    {
        foreach (var node in await SchedulableNodesAsync(cancellationToken))
            if (await _nodes.For(node.Hostname).ImageExistsAsync(image, cancellationToken))
                return true;
        return false;
    }

    public async Task<IReadOnlyList<string>> ListLocalImagesAsync(CancellationToken cancellationToken = default)
    {
        var images = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var node in await SchedulableNodesAsync(cancellationToken))
            images.UnionWith(await _nodes.For(node.Hostname).ListLocalImagesAsync(cancellationToken));
        return [.. images];
    }

    /// <summary>Pulls on every schedulable node that lacks the image; the first node's reason when one fails.</summary>
    public async Task<string?> PullAsync(string image, IProgress<PullProgress>? progress, CancellationToken cancellationToken = default)
    {
        var nodes = await SchedulableNodesAsync(cancellationToken);
        if (nodes.Count == 0)
            return NoSuitableNode("no node is ready and active with an engine endpoint to pull the image on");
        foreach (var node in nodes)
        {
            var engine = _nodes.For(node.Hostname);
            if (await engine.ImageExistsAsync(image, cancellationToken))
                continue;
            if (await engine.PullAsync(image, progress, cancellationToken) is { } reason)
                return $"{reason} (on node {node.Hostname})";
        }
        return null;
    }

    // --- the service ----------------------------------------------------------------------------------------------------

    /// <summary>Makes the service with 0 replicas (created, not started), pinned to its node. Null when the name is taken.</summary>
    public async Task<string?> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        // Homes on shared storage (CONTAINER_VOLUME_DRIVER): the Swarm places the task anywhere, and that node makes the volume.
        string? node = null;
        if (!_options.HomesOnSharedStorage)
        {
            await _placement.WaitAsync(cancellationToken);
            try
            {
                node = spec.HomeVolume is { } home && await NodeHoldingVolumeAsync(home, cancellationToken) is { } holder
                    ? holder
                    : await ChooseNodeAsync(cancellationToken);
            }
            finally
            {
                _placement.Release();
            }
        }
        var labels = new Dictionary<string, string>(spec.Labels, StringComparer.Ordinal);
        if (node is not null)
            labels[NodeLabel] = node;
        var parameters = new ServiceCreateParameters { Service = ServiceSpecFor(spec, labels, node) };
        try
        {
            var created = await Guard(() => Client.Swarm.CreateServiceAsync(parameters, cancellationToken), cancellationToken);
            var id = created.ID ?? throw new EngineRefusedException("the manager created the service but gave no id", EngineRefusal.Other);
            Remember(id, labels);
            LogServiceCreated(_logger, spec.Name, id, node ?? "(any: homes on shared storage)");
            return id;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.Conflict)
        {
            return null;
        }
    }

    /// <summary>The spec: the plain backend's hardening, written the way a service spec can hold it.</summary>
    private ServiceSpec ServiceSpecFor(ContainerSpec spec, Dictionary<string, string> labels, string? node)
    {
        var container = new Docker.DotNet.Models.ContainerSpec
        {
            Image = spec.Image,
            Command = [.. _options.Command],
            Hostname = spec.Name.Length <= 63 ? spec.Name : "dockhand",
            Labels = new Dictionary<string, string>(labels),
            Init = true,
            CapabilityDrop = ["ALL"],
            CapabilityAdd = [.. _options.CapAdd],
            // Not on API 1.41 (the engine drops it): the nodes' daemon.json must say "no-new-privileges": true, which
            // StartAsync checks on the running task (see VerifyNoNewPrivilegesAsync).
            Privileges = new Privileges { NoNewPrivileges = _options.NoNewPrivileges },
            StopGracePeriod = TimeSpan.FromSeconds(5),
        };
        if (spec.HomeVolume is not null)
        {
            container.Mounts = [new Mount { Type = "volume", Source = spec.HomeVolume, Target = _options.VolumePath }];
            // Shared storage: whichever node runs the task makes the volume from the same driver and options.
            if (_options.HomesOnSharedStorage)
            {
                container.Mounts[0].VolumeOptions = new VolumeOptions
                {
                    DriverConfig = new Driver
                    {
                        Name = _options.VolumeDriver.Length > 0 ? _options.VolumeDriver : "local",
                        Options = new Dictionary<string, string>(_options.VolumeDriverOptions),
                    },
                };
            }
        }
        var limits = new SwarmLimit
        {
            MemoryBytes = _options.MemoryLimitBytes == 0 ? null : _options.MemoryLimitBytes,
            NanoCPUs = _options.NanoCpus == 0 ? null : _options.NanoCpus,
            Pids = _options.PidsLimit == 0 ? null : _options.PidsLimit,
        };
        return new ServiceSpec
        {
            Name = spec.Name,
            Labels = labels,
            Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = 0 } },
            TaskTemplate = new TaskSpec
            {
                ContainerSpec = container,
                // Reservations equal to the limits: the scheduler places a task only where its limits really fit.
                Resources = new ResourceRequirements
                {
                    Limits = limits,
                    Reservations = new SwarmResources { MemoryBytes = limits.MemoryBytes, NanoCPUs = limits.NanoCPUs },
                },
                // Like the plain backend's unless-stopped: a task that exits is started again (stop is replicas 0).
                RestartPolicy = new SwarmRestartPolicy { Condition = "any", Delay = TimeSpan.FromSeconds(1) },
                Placement = new Placement { Constraints = node is null ? [] : [$"node.hostname=={node}"] },
                // "none" is not a network a service can join (API 1.41): no attachment means the node's default bridge.
                Networks = spec.Network is "none" or "" ? [] : [new NetworkAttachmentConfig { Target = spec.Network }],
            },
        };
    }

    public Task StartAsync(string containerId, CancellationToken cancellationToken = default)
        => ScaleAndWaitAsync(containerId, running: true, forceUpdate: false, cancellationToken);

    public Task StopAsync(string containerId, CancellationToken cancellationToken = default)
        => ScaleAndWaitAsync(containerId, running: false, forceUpdate: false, cancellationToken);

    /// <summary>A forced update: the Swarm replaces the task with a new one (a new container on the same node).</summary>
    public Task RestartAsync(string containerId, CancellationToken cancellationToken = default)
        => ScaleAndWaitAsync(containerId, running: true, forceUpdate: true, cancellationToken);

    private async Task ScaleAndWaitAsync(string serviceId, bool running, bool forceUpdate, CancellationToken cancellationToken)
    {
        var service = await Guard(() => Client.Swarm.InspectServiceAsync(serviceId, cancellationToken), cancellationToken);
        await RefuseWhenPinnedNodeDownAsync(service, cancellationToken);
        var spec = service.Spec ?? throw new EngineRefusedException($"the service {serviceId} has no spec", EngineRefusal.Other);
        spec.Mode ??= new ServiceMode();
        spec.Mode.Replicated ??= new ReplicatedService();
        spec.TaskTemplate ??= new TaskSpec();
        spec.Mode.Replicated.Replicas = running ? 1UL : 0UL;
        if (forceUpdate)
            spec.TaskTemplate.ForceUpdate++;
        var updatedAt = _time.GetUtcNow();
        // Tasks from before this update: their failures are history (an image loaded since, a node made active again).
        var earlier = (await TasksAsync(serviceId, cancellationToken)).Select(t => t.ID ?? "").ToHashSet(StringComparer.Ordinal);
        await Guard(() => Client.Swarm.UpdateServiceAsync(serviceId, new ServiceUpdateParameters { Service = spec, Version = (long)(service.Version?.Index ?? 0) }, cancellationToken), cancellationToken);
        if (running)
            await WaitUntilTaskRunsAsync(serviceId, spec.TaskTemplate.ForceUpdate, earlier, cancellationToken);
        else
            await WaitUntilNoTaskRunsAsync(serviceId, cancellationToken);
        var elapsed = (_time.GetUtcNow() - updatedAt).TotalMilliseconds;
        LogServiceScaled(_logger, serviceId, running ? 1 : 0, forceUpdate, elapsed);
    }

    /// <summary>
    /// Waits until a task of the current spec (<paramref name="forceUpdate"/>) runs (one that already ran before the update
    /// counts: start on a running service changes nothing). A task made by this update that the Swarm cannot place, or that
    /// fails to start, ends the wait at once with a refusal (the service is scaled back to 0, so it does not keep
    /// trying behind the user's back).
    /// </summary>
    private async Task WaitUntilTaskRunsAsync(string serviceId, ulong forceUpdate, IReadOnlySet<string> earlier, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TaskStartTimeout);
        string? lastState = null;
        try
        {
            while (true)
            {
                var tasks = await TasksAsync(serviceId, timeout.Token);
                var current = tasks.Where(t => t.DesiredState == TaskState.Running && (t.Spec?.ForceUpdate ?? 0) == forceUpdate)
                    .OrderByDescending(t => t.CreatedAt).FirstOrDefault();
                if (current?.Status?.State == TaskState.Running)
                {
                    if (_options.NoNewPrivileges)
                        await VerifyNoNewPrivilegesAsync(serviceId, current, cancellationToken);
                    return;
                }
                if (current is not null && !earlier.Contains(current.ID ?? "") && Refusal(current) is { } refusal)
                {
                    await ScaleToZeroQuietlyAsync(serviceId);
                    throw new EngineRefusedException(refusal, EngineRefusal.Placement);
                }
                // A task that failed and was replaced: its error explains why the next one will fail too.
                var failed = tasks.Where(t => t.Status?.State is TaskState.Failed or TaskState.Rejected && (t.Spec?.ForceUpdate ?? 0) == forceUpdate && !earlier.Contains(t.ID ?? ""))
                    .OrderByDescending(t => t.CreatedAt).FirstOrDefault();
                if (failed is not null && Refusal(failed) is { } failure)
                {
                    await ScaleToZeroQuietlyAsync(serviceId);
                    throw new EngineRefusedException(failure, EngineRefusal.Placement);
                }
                lastState = current?.Status?.State?.ToString() ?? "no task yet";
                await Task.Delay(PollInterval, _time, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await ScaleToZeroQuietlyAsync(serviceId);
            throw new EngineUnavailableException($"the Swarm did not start the task within {TaskStartTimeout.TotalSeconds:0} s (last state: {lastState}); see docker service ps {serviceId}");
        }
    }

    private async Task WaitUntilNoTaskRunsAsync(string serviceId, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TaskStartTimeout);
        try
        {
            while ((await TasksAsync(serviceId, timeout.Token)).Any(t => t.Status?.State is TaskState.Running or TaskState.Starting or TaskState.Preparing))
                await Task.Delay(PollInterval, _time, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EngineUnavailableException($"the Swarm did not stop the task within {TaskStartTimeout.TotalSeconds:0} s; see docker service ps {serviceId}");
        }
    }

    /// <summary>
    /// One sentence users may see for a task that will not run, or null while it may still: "no suitable node" while the
    /// Swarm cannot place it (the pinned node drained, down or short of resources), "image missing on the node", or that
    /// the node could not start it. The task's own error goes to the log.
    /// </summary>
    private string? Refusal(TaskResponse task)
    {
        var state = task.Status?.State;
        var error = (task.Status?.Err ?? "").ReplaceLineEndings(" ").Trim();
        var node = task.Spec?.Placement?.Constraints?.FirstOrDefault(c => c.StartsWith("node.hostname==", StringComparison.Ordinal))?["node.hostname==".Length..] ?? "its node";
        var image = task.Spec?.ContainerSpec?.Image ?? "";
        string? sentence = null;
        if (state == TaskState.Pending && error.Contains("no suitable node", StringComparison.OrdinalIgnoreCase))
            sentence = NoSuitableNode($"the container's home is on node {node}, which cannot run it now (drained, down or full); ask an operator to make that node available, then try again");
        else if (state is TaskState.Failed or TaskState.Rejected)
            sentence = error.Contains("No such image", StringComparison.OrdinalIgnoreCase) || error.Contains("pull access denied", StringComparison.OrdinalIgnoreCase)
                ? $"The image {image} is missing on node {node}: ask an operator to load it there, then try again."
                : $"Node {node} could not start the container; ask an operator to check that node, then try again.";
        if (sentence is not null)
            LogTaskRefused(_logger, task.ServiceID ?? "", node, state?.ToString() ?? "", error);
        return sentence;
    }

    private static string NoSuitableNode(string detail) => $"No suitable node: {detail}.";

    private async Task ScaleToZeroQuietlyAsync(string serviceId)
    {
        try
        {
            var service = await Guard(() => Client.Swarm.InspectServiceAsync(serviceId, CancellationToken.None), CancellationToken.None);
            if (service.Spec?.Mode?.Replicated is not { } replicated)
                return;
            replicated.Replicas = 0;
            await Guard(() => Client.Swarm.UpdateServiceAsync(serviceId, new ServiceUpdateParameters { Service = service.Spec, Version = (long)(service.Version?.Index ?? 0) }, CancellationToken.None), CancellationToken.None);
        }
        catch (EngineException e)
        {
            LogScaleBackFailed(_logger, serviceId, e.Message);
        }
    }

    /// <summary>
    /// API 1.41 cannot ask for no-new-privileges in a service spec, so it is checked where it counts: the task's first
    /// process. A node whose daemon does not enforce it gets its service scaled back to 0 and a refusal saying so.
    /// </summary>
    private async Task VerifyNoNewPrivilegesAsync(string serviceId, TaskResponse task, CancellationToken cancellationToken)
    {
        var hostname = await HostnameAsync(task.NodeID, cancellationToken);
        var containerId = task.Status?.ContainerStatus?.ContainerID ?? "";
        var status = await _nodes.For(hostname).ReadFileAsync(containerId, "/proc/1/status", cancellationToken);
        if (status is not null && status.Split('\n').Any(line => line.StartsWith("NoNewPrivs:", StringComparison.Ordinal) && line.EndsWith('1')))
            return;
        await ScaleToZeroQuietlyAsync(serviceId);
        throw new EngineRefusedException(
            $"node {hostname} does not enforce no-new-privileges, which a Swarm service spec (API 1.41) cannot ask for; add \"no-new-privileges\": true to that node's daemon.json and restart its dockerd, or set CONTAINER_NO_NEW_PRIVILEGES=false",
            EngineRefusal.Other);
    }

    /// <summary>Removes the service and waits until its container is gone from the node, so its home volume can go next.</summary>
    public async Task<bool> RemoveAsync(string containerId, CancellationToken cancellationToken = default)
    {
        if (IsPlaceholder(containerId))
            return false;
        IReadOnlyList<TaskResponse> tasks;
        try
        {
            await RefuseWhenPinnedNodeDownAsync(await Guard(() => Client.Swarm.InspectServiceAsync(containerId, cancellationToken), cancellationToken), cancellationToken);
            tasks = await TasksAsync(containerId, cancellationToken);
            await Guard(async () => { await Client.Swarm.RemoveServiceAsync(containerId, cancellationToken); return 0; }, cancellationToken);
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return false;
        }
        foreach (var task in tasks)
        {
            if (task.Status?.ContainerStatus?.ContainerID is not { Length: > 0 } container)
                continue;
            var hostname = await HostnameAsync(task.NodeID, cancellationToken);
            if (!_nodes.Has(hostname))
                continue;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TaskStartTimeout);
            try
            {
                while (await _nodes.For(hostname).InspectAsync(container, timeout.Token) is not null)
                    await Task.Delay(PollInterval, _time, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                LogContainerLingers(_logger, container, hostname);
            }
            catch (EngineUnavailableException e)
            {
                // A node that is down keeps its container until it is back; the Swarm removes it then.
                LogContainerLingers(_logger, container, $"{hostname} ({e.Message})");
            }
        }
        return true;
    }

    public async Task<EngineContainer?> InspectAsync(string containerId, CancellationToken cancellationToken = default)
    {
        if (IsPlaceholder(containerId))
            return null;
        SwarmService service;
        try
        {
            service = await Guard(() => Client.Swarm.InspectServiceAsync(containerId, cancellationToken), cancellationToken);
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
        var tasks = await TasksAsync(service.ID, cancellationToken);
        return ToContainer(service, tasks) with { Placement = await PlacementAsync(service, CurrentTask(tasks), cancellationToken) };
    }

    /// <summary>
    /// Where the current task is: its node, or while it has none (not placed yet, or its node went down and the Swarm
    /// made a replacement that waits for that node) the node the service is pinned to.
    /// </summary>
    private async Task<TaskPlacement> PlacementAsync(SwarmService service, TaskResponse? task, CancellationToken cancellationToken)
    {
        var node = await NodeAsync(task?.NodeID, cancellationToken);
        if (node is null && PinnedNode(service) is { } pinned)
            node = await NodeByHostnameAsync(pinned, cancellationToken);
        var hostname = node?.Description?.Hostname ?? PinnedNode(service) ?? "none yet";
        return new TaskPlacement(hostname, node?.Status?.State ?? "unknown", task?.Status?.State?.ToString().ToLowerInvariant() ?? "none",
            task?.Status?.Err is { Length: > 0 } error ? error : null);
    }

    private static string? PinnedNode(SwarmService service)
        => service.Spec?.Labels is { } labels && labels.TryGetValue(NodeLabel, out var node) ? node : null;

    /// <summary>
    /// Refuses, naming it, when the node a service is pinned to is not ready: its task (and its home) are there, and a
    /// scale or a removal now would wait in vain or leave the home behind. A node removed from the Swarm (docker node rm)
    /// does not hold anything up.
    /// </summary>
    private async Task RefuseWhenPinnedNodeDownAsync(SwarmService service, CancellationToken cancellationToken)
    {
        if (PinnedNode(service) is not { } pinned || await NodeByHostnameAsync(pinned, cancellationToken) is not { } node)
            return;
        if (node.Status?.State is { } state && state != "ready")
        {
            LogPinnedNodeDown(_logger, service.ID, pinned, state);
            throw new EngineRefusedException(NodeDown(pinned, state), EngineRefusal.Placement);
        }
    }

    private static string NodeDown(string hostname, string state)
        => $"The node {hostname} that holds this container and its home is {state}; nothing is lost, try again when it is back.";

    /// <summary>
    /// Where the owner's container runs: its current task's state, node and container id, and when it started. Null when
    /// the service is gone. What <c>status</c> reports on a Swarm.
    /// </summary>
    public async Task<SwarmTaskInfo?> InspectTaskAsync(string serviceId, CancellationToken cancellationToken = default)
    {
        if (await ExistingTasksAsync(serviceId, cancellationToken) is not { } tasks)
            return null;
        if (CurrentTask(tasks) is not { } task)
            return null;
        var node = await NodeAsync(task.NodeID, cancellationToken);
        return new SwarmTaskInfo(task.ID, task.Status?.State?.ToString().ToLowerInvariant() ?? "unknown", node?.Description?.Hostname ?? task.NodeID ?? "",
            node?.Status?.State ?? "unknown", task.Status?.ContainerStatus?.ContainerID,
            task.Status?.State == TaskState.Running && task.Status.Timestamp is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null,
            task.Status?.Err is { Length: > 0 } err ? err : null);
    }

    public async Task<IReadOnlyList<EngineContainer>> ListManagedAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken = default)
    {
        var services = await Guard(() => Client.Swarm.ListServicesAsync(new ServiceListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = LabelFilter(labels) },
        }, cancellationToken), cancellationToken);
        if (!services.Any())
            return [];
        var tasks = await Guard(() => Client.Tasks.ListAsync(new TasksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = LabelFilter(labels) },
        }, cancellationToken), cancellationToken);
        var byService = tasks.GroupBy(t => t.ServiceID ?? "").ToDictionary(g => g.Key, g => (IReadOnlyList<TaskResponse>)[.. g], StringComparer.Ordinal);
        return [.. services.Select(s => ToContainer(s, byService.GetValueOrDefault(s.ID) ?? []))];
    }

    private EngineContainer ToContainer(SwarmService service, IReadOnlyList<TaskResponse> tasks)
    {
        var labels = ReadOnly(service.Spec?.Labels);
        Remember(service.ID, labels);
        var task = CurrentTask(tasks);
        var wanted = service.Spec?.Mode?.Replicated?.Replicas ?? 0;
        var state = task?.Status?.State switch
        {
            TaskState.Running => LiveState.Running,
            // Placed or on its way: not running yet, and not stopped either.
            TaskState.New or TaskState.Pending or TaskState.Allocated or TaskState.Assigned or TaskState.Accepted or TaskState.Preparing
                or TaskState.Ready or TaskState.Starting => wanted > 0 ? LiveState.Restarting : LiveState.Exited,
            null => wanted > 0 ? LiveState.Created : LiveState.Exited,
            _ => LiveState.Exited,
        };
        DateTimeOffset? startedAt = task?.Status?.State == TaskState.Running && task.Status.Timestamp is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
        DateTimeOffset? createdAt = service.CreatedAt is { } created ? new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc)) : null;
        return new EngineContainer(service.ID, service.Spec?.Name ?? "", state, startedAt, labels, service.Spec?.TaskTemplate?.ContainerSpec?.Image, createdAt);
    }

    /// <summary>The task that stands for the service now: the newest one meant to run, else the newest of all.</summary>
    private static TaskResponse? CurrentTask(IEnumerable<TaskResponse> tasks)
    {
        var list = tasks.OrderByDescending(t => t.CreatedAt).ToList();
        return list.FirstOrDefault(t => t.DesiredState == TaskState.Running) ?? list.FirstOrDefault();
    }

    /// <summary>The service's tasks; null when the id is a pending placeholder or the service is gone.</summary>
    private async Task<IReadOnlyList<TaskResponse>?> ExistingTasksAsync(string serviceId, CancellationToken cancellationToken)
    {
        if (IsPlaceholder(serviceId))
            return null;
        try
        {
            return await TasksAsync(serviceId, cancellationToken);
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    private async Task<IReadOnlyList<TaskResponse>> TasksAsync(string serviceId, CancellationToken cancellationToken)
        => [.. await Guard(() => Client.Tasks.ListAsync(new TasksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [serviceId] = true } },
        }, cancellationToken), cancellationToken)];

    public async Task<EngineUsage> GetUsageAsync(string containerId, CancellationToken cancellationToken = default)
    {
        if (await RunningTaskAsync(containerId, cancellationToken) is not { } located)
            return EngineUsage.None;
        return await located.Engine.GetUsageAsync(located.ContainerId, cancellationToken);
    }

    /// <summary>
    /// Service events from the manager (type=service: create, update, remove) as the plain backend's container events:
    /// create, start (an update: scaled, restarted) and destroy. A service event carries only the service's name, so the
    /// labels are the ones last seen for it.
    /// </summary>
    public async Task MonitorAsync(IReadOnlyDictionary<string, string> scope, DateTimeOffset since, Func<EngineEvent, Task> onEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(onEvent);
        var channel = System.Threading.Channels.Channel.CreateUnbounded<Message>(new() { SingleReader = true, SingleWriter = true });
        var sink = new SyncProgress<Message>(message =>
        {
            if (message.Type == "service" && message.Actor?.ID is { Length: > 0 })
                channel.Writer.TryWrite(message);
        });
        var parameters = new ContainerEventsParameters
        {
            Since = since.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["type"] = new Dictionary<string, bool> { ["service"] = true } },
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = Task.Run(async () =>
        {
            try
            {
                await Guard(async () => { await Client.System.MonitorEventsAsync(parameters, sink, stop.Token); return 0; }, stop.Token);
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var message in channel.Reader.ReadAllAsync(cancellationToken))
            {
                var id = message.Actor.ID;
                var labels = message.Action == "remove" ? Forget(id) : await LabelsAsync(id, cancellationToken);
                if (labels is null || !scope.All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value))
                    continue;
                var action = message.Action switch
                {
                    "create" => "create",
                    "remove" => "destroy",
                    _ => "start",
                };
                await onEvent(new EngineEvent(action, id, labels));
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await pump;
            }
            catch (Exception e) when (e is OperationCanceledException || stop.IsCancellationRequested)
            {
            }
        }
        await pump;
    }

    public async Task<ContainerPresence> WaitUntilNotRunningAsync(string containerId, TimeSpan interval, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                var presence = (await InspectAsync(containerId, cancellationToken)).Presence();
                if (presence != ContainerPresence.Running)
                    return presence;
            }
            catch (EngineException e)
            {
                LogPollFailed(_logger, containerId, e.Message);
            }
            await Task.Delay(interval, _time, cancellationToken);
        }
    }

    // --- home volumes: local to a node ----------------------------------------------------------------------------------

    public async Task<EngineVolume?> InspectVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        foreach (var hostname in _nodes.Hostnames)
        {
            if (await TryNodeAsync(hostname, engine => engine.InspectVolumeAsync(name, cancellationToken)) is { } volume)
                return volume;
        }
        return null;
    }

    /// <summary>Makes the home on the node the owner's service will be pinned to: the one with the fewest Dockhand services.</summary>
    public async Task CreateVolumeAsync(string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        await _placement.WaitAsync(cancellationToken);
        try
        {
            var node = await ChooseNodeAsync(cancellationToken);
            await _nodes.For(node).CreateVolumeAsync(name, labels, cancellationToken);
            LogVolumeCreated(_logger, name, node);
        }
        finally
        {
            _placement.Release();
        }
    }

    /// <summary>
    /// Removes the home from the node that holds it, or on shared storage from every node that made it (each node has
    /// its own volume object for the same storage).
    /// </summary>
    public async Task<bool> RemoveVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!_options.HomesOnSharedStorage)
            return await NodeHoldingVolumeAsync(name, cancellationToken) is { } node && await _nodes.For(node).RemoveVolumeAsync(name, cancellationToken);
        var removed = false;
        foreach (var hostname in _nodes.Hostnames)
        {
            if (await TryNodeAsync(hostname, engine => engine.InspectVolumeAsync(name, cancellationToken)) is not null)
                removed |= await _nodes.For(hostname).RemoveVolumeAsync(name, cancellationToken);
        }
        return removed;
    }

    public async Task<IReadOnlyList<EngineVolume>> ListVolumesAsync(IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken = default)
    {
        var volumes = new List<EngineVolume>();
        foreach (var hostname in _nodes.Hostnames)
        {
            try
            {
                volumes.AddRange(await _nodes.For(hostname).ListVolumesAsync(labels, cancellationToken));
            }
            catch (EngineUnavailableException e)
            {
                LogNodeUnreachable(_logger, hostname, e.Message);
            }
        }
        return volumes;
    }

    private async Task<string?> NodeHoldingVolumeAsync(string name, CancellationToken cancellationToken)
    {
        foreach (var hostname in _nodes.Hostnames)
            if (await TryNodeAsync(hostname, engine => engine.InspectVolumeAsync(name, cancellationToken)) is not null)
                return hostname;
        return null;
    }

    /// <summary>A call to one node's engine; null (logged) when the node does not answer: one node down must not stop the others.</summary>
    private async Task<T?> TryNodeAsync<T>(string hostname, Func<DockerContainerRuntime, Task<T?>> call) where T : class
    {
        try
        {
            return await call(_nodes.For(hostname));
        }
        catch (EngineUnavailableException e)
        {
            LogNodeUnreachable(_logger, hostname, e.Message);
            return null;
        }
    }

    // --- networks: named swarm networks only (SwarmSettings refuses the per-instance bridge) -----------------------------

    public Task<EngineNetwork?> InspectNetworkAsync(string name, CancellationToken cancellationToken = default) => _manager.InspectNetworkAsync(name, cancellationToken);

    public Task<bool> CreateNetworkAsync(string name, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> driverOptions, CancellationToken cancellationToken = default)
        => throw new EngineRefusedException($"Dockhand does not make networks on a Swarm; set {ContainerOptions.Keys.Network} to none or to an overlay network's name", EngineRefusal.Other);

    // --- the task's container, through its node's engine ----------------------------------------------------------------

    public async Task<bool> PathExistsAsync(string containerId, string path, CancellationToken cancellationToken = default)
    {
        var located = await RunningTaskAsync(containerId, cancellationToken)
            ?? throw new EngineRefusedException($"the service {containerId} has no running task", EngineRefusal.Conflict);
        return await located.Engine.PathExistsAsync(located.ContainerId, path, cancellationToken);
    }

    public async Task<IShellProcess> StartShellAsync(string containerId, ShellSpec spec, CancellationToken cancellationToken = default)
    {
        var located = await RunningTaskAsync(containerId, cancellationToken)
            ?? throw new EngineRefusedException($"the service {containerId} has no running task", EngineRefusal.Conflict);
        LogShellRouted(_logger, containerId, located.Hostname, located.ContainerId);
        return await located.Engine.StartShellAsync(located.ContainerId, spec, cancellationToken);
    }

    /// <summary>
    /// The running task's node engine and container id; null when no task runs. Refuses, naming the node, when the node
    /// has no endpoint or is down.
    /// </summary>
    internal async Task<LocatedTask?> RunningTaskAsync(string serviceId, CancellationToken cancellationToken)
    {
        if (await ExistingTasksAsync(serviceId, cancellationToken) is not { } tasks)
            return null;
        var task = tasks.Where(t => t.Status?.State == TaskState.Running && t.Status.ContainerStatus?.ContainerID is { Length: > 0 })
            .OrderByDescending(t => t.CreatedAt).FirstOrDefault();
        if (task is null)
            return null;
        var node = await NodeAsync(task.NodeID, cancellationToken);
        var hostname = node?.Description?.Hostname ?? task.NodeID ?? "";
        if (node?.Status?.State is { } nodeState && nodeState != "ready")
            throw new EngineRefusedException(NodeDown(hostname, nodeState), EngineRefusal.Placement);
        return new LocatedTask(hostname, task.Status!.ContainerStatus!.ContainerID, _nodes.For(hostname));
    }

    internal sealed record LocatedTask(string Hostname, string ContainerId, DockerContainerRuntime Engine);

    // --- nodes ----------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Every node of the Swarm as the manager sees it, with whether Dockhand has its engine (for <c>doctor</c>).
    /// </summary>
    public async Task<IReadOnlyList<SwarmNodeInfo>> ListNodesAsync(CancellationToken cancellationToken = default)
    {
        var nodes = await Guard(() => Client.Swarm.ListNodesAsync(cancellationToken), cancellationToken);
        return [.. nodes
            .Select(n => new SwarmNodeInfo(n.Description?.Hostname ?? n.ID, n.Spec?.Role ?? "", n.Status?.State ?? "unknown", n.Spec?.Availability ?? "", _nodes.Has(n.Description?.Hostname ?? "")))
            .OrderBy(n => n.Hostname, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Whether each ready node with an endpoint enforces no-new-privileges by default (<see cref="NoNewPrivilegesProbe"/>),
    /// measured with <see cref="ContainerOptions.DefaultImage"/>. Start-up and <c>doctor</c> ask; a node that does not
    /// answer is reported as not measured.
    /// </summary>
    public async Task<IReadOnlyList<NodeNoNewPrivileges>> CheckNoNewPrivilegesAsync(CancellationToken cancellationToken = default)
    {
        var labels = new Dictionary<string, string>(_options.ExtraLabels, StringComparer.Ordinal) { [ContainerLabels.Managed] = "true" };
        var results = new List<NodeNoNewPrivileges>();
        foreach (var node in await ListNodesAsync(cancellationToken))
        {
            if (!node.HasEndpoint)
                results.Add(new(node.Hostname, null, $"not measured: no endpoint in {SwarmSettings.Keys.NodeEndpoints}"));
            else if (node.State != "ready")
                results.Add(new(node.Hostname, null, $"not measured: the node is {node.State}"));
            else
                results.Add(await _nodes.For(node.Hostname).CheckAsync(node.Hostname, _options.DefaultImage, labels, cancellationToken));
        }
        return results;
    }

    /// <summary>Nodes a new service may go to: ready, active (not drained or paused), with an engine endpoint.</summary>
    private async Task<IReadOnlyList<SwarmNode>> SchedulableNodesAsync(CancellationToken cancellationToken)
    {
        var nodes = await Guard(() => Client.Swarm.ListNodesAsync(cancellationToken), cancellationToken);
        return [.. nodes
            .Where(n => n.Status?.State == "ready" && n.Spec?.Availability == "active")
            .Select(n => new SwarmNode(n.ID, n.Description?.Hostname ?? ""))
            .Where(n => _nodes.Has(n.Hostname))
            .OrderBy(n => n.Hostname, StringComparer.Ordinal)];
    }

    private sealed record SwarmNode(string Id, string Hostname);

    /// <summary>The schedulable node with the fewest Dockhand services (of any instance); ties go to the first hostname.</summary>
    private async Task<string> ChooseNodeAsync(CancellationToken cancellationToken)
    {
        var nodes = await SchedulableNodesAsync(cancellationToken);
        if (nodes.Count == 0)
            throw new EngineRefusedException(NoSuitableNode("no node of the Swarm can take a new container now (all drained, down, or without an engine endpoint in Dockhand's settings); ask an operator to check the nodes"), EngineRefusal.Placement);
        var services = await Guard(() => Client.Swarm.ListServicesAsync(new ServiceListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Managed}=true"] = true } },
        }, cancellationToken), cancellationToken);
        var counts = services.Select(s => s.Spec?.Labels is { } labels && labels.TryGetValue(NodeLabel, out var node) ? node : null).Where(n => n is not null)
            .GroupBy(n => n!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return nodes.OrderBy(n => counts.GetValueOrDefault(n.Hostname)).ThenBy(n => n.Hostname, StringComparer.Ordinal).First().Hostname;
    }

    private async Task<NodeListResponse?> NodeAsync(string? nodeId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(nodeId))
            return null;
        try
        {
            return await Guard(() => Client.Swarm.InspectNodeAsync(nodeId, cancellationToken), cancellationToken);
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    private async Task<NodeListResponse?> NodeByHostnameAsync(string hostname, CancellationToken cancellationToken)
        => (await Guard(() => Client.Swarm.ListNodesAsync(cancellationToken), cancellationToken)).FirstOrDefault(n => n.Description?.Hostname == hostname);

    private async Task<string> HostnameAsync(string? nodeId, CancellationToken cancellationToken)
        => (await NodeAsync(nodeId, cancellationToken))?.Description?.Hostname ?? nodeId ?? "";

    // --- helpers --------------------------------------------------------------------------------------------------------

    private static bool IsPlaceholder(string id) => string.IsNullOrEmpty(id) || id.StartsWith(ContainerStore.PendingIdPrefix, StringComparison.Ordinal);

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

    private async Task<IReadOnlyDictionary<string, string>?> LabelsAsync(string serviceId, CancellationToken cancellationToken)
    {
        lock (_labelsLock)
            if (_labelsSeen.TryGetValue(serviceId, out var seen))
                return seen;
        try
        {
            var service = await Guard(() => Client.Swarm.InspectServiceAsync(serviceId, cancellationToken), cancellationToken);
            var labels = ReadOnly(service.Spec?.Labels);
            Remember(serviceId, labels);
            return labels;
        }
        catch (EngineRefusedException e) when (e.Kind == EngineRefusal.NotFound)
        {
            return null;
        }
    }

    private void Remember(string serviceId, IReadOnlyDictionary<string, string> labels)
    {
        lock (_labelsLock)
            _labelsSeen[serviceId] = labels;
    }

    private IReadOnlyDictionary<string, string>? Forget(string serviceId)
    {
        lock (_labelsLock)
            return _labelsSeen.Remove(serviceId, out var labels) ? labels : null;
    }

    private static IReadOnlyDictionary<string, string> ReadOnly(IDictionary<string, string>? labels)
        => labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(labels, StringComparer.Ordinal);

    /// <summary>Runs one manager call through the plain backend's error translation.</summary>
    private async Task<T> Guard<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (_manager.Translate(e, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public void Dispose()
    {
        _nodes.Dispose();
        _manager.Dispose();
        _placement.Dispose();
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Created service {Name} ({ServiceId}) pinned to node {Node}")]
    private static partial void LogServiceCreated(ILogger logger, string name, string serviceId, string node);

    [LoggerMessage(EventId = 2301, Level = LogLevel.Debug, Message = "Service {ServiceId} scaled to {Replicas} (forced update: {Forced}) in {Milliseconds} ms")]
    private static partial void LogServiceScaled(ILogger logger, string serviceId, int replicas, bool forced, double milliseconds);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Information, Message = "Created home volume {Volume} on node {Node}")]
    private static partial void LogVolumeCreated(ILogger logger, string volume, string node);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Node {Node} did not answer: {Reason}")]
    private static partial void LogNodeUnreachable(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 2304, Level = LogLevel.Warning, Message = "Could not scale service {ServiceId} back to 0: {Reason}")]
    private static partial void LogScaleBackFailed(ILogger logger, string serviceId, string reason);

    [LoggerMessage(EventId = 2305, Level = LogLevel.Warning, Message = "Container {ContainerId} of a removed service is still on node {Node}")]
    private static partial void LogContainerLingers(ILogger logger, string containerId, string node);

    [LoggerMessage(EventId = 2306, Level = LogLevel.Debug, Message = "Shell for service {ServiceId} routed to node {Node}, container {ContainerId}")]
    private static partial void LogShellRouted(ILogger logger, string serviceId, string node, string containerId);

    [LoggerMessage(EventId = 2308, Level = LogLevel.Warning, Message = "Service {ServiceId} cannot run on node {Node}: task {State}, {Error}")]
    private static partial void LogTaskRefused(ILogger logger, string serviceId, string node, string state, string error);

    [LoggerMessage(EventId = 2309, Level = LogLevel.Warning, Message = "Service {ServiceId} is pinned to node {Node}, which is {State}: refused until it is back")]
    private static partial void LogPinnedNodeDown(ILogger logger, string serviceId, string node, string state);

    [LoggerMessage(EventId = 2307, Level = LogLevel.Debug, Message = "Could not ask about service {ServiceId}: {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string serviceId, string reason);
}

/// <summary>What <c>status</c> reports on a Swarm: the owner's current task.</summary>
/// <param name="State">The task's state as the Swarm names it (running, pending, shutdown, …).</param>
/// <param name="NodeState">The node's state: ready, down, unknown or disconnected.</param>
public sealed record SwarmTaskInfo(string TaskId, string State, string Node, string NodeState, string? ContainerId, DateTimeOffset? StartedAt, string? Error);

/// <summary>One node of the Swarm for <c>doctor</c>: role (manager, worker), state (ready, down), availability (active, drain, pause).</summary>
public sealed record SwarmNodeInfo(string Hostname, string Role, string State, string Availability, bool HasEndpoint);
