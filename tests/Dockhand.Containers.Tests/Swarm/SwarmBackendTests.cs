using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers.Swarm;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>
/// The Swarm backend against the real three-node test bed (scripts/swarm-testbed.sh): a drained manager and two workers,
/// each its own dockerd. Few tests, each doing a whole story, because every service operation waits for the Swarm to
/// place and start a task (about a second each); all waits are on conditions.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmBackendTests(SwarmTestBed bed)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static CreateRequest Request(OwnerId owner, string name) => new(owner, name, null, Actor.Cli("test"));

    internal static async Task<ContainerRecord> CreateAsync(SwarmHarness harness, OwnerId owner)
    {
        var result = await harness.Service.CreateAsync(Request(owner, Harness.NewName("sw")), cancellationToken: Ct);
        return Assert.IsType<CreateResult.Created>(result, exactMatch: false) is CreateResult.Created created
            ? created.Status.Record
            : throw new InvalidOperationException($"create refused: {result}");
    }

    /// <summary>Runs a command in a shell through the runtime (so through the task's node) and returns what it printed before the marker.</summary>
    internal static async Task<string> ShellRoundTripAsync(IContainerRuntime runtime, string serviceId, string command)
    {
        await using var shell = await runtime.StartShellAsync(serviceId, new ShellSpec("/bin/sh", []), Ct);
        var marker = "END" + Guid.NewGuid().ToString("N")[..8];
        // The marker is printed by the shell (split in the command, so the TTY's echo of the input never matches it).
        await shell.WriteAsync(Encoding.UTF8.GetBytes($"{command}; echo {marker[..3]}''{marker[3..]}\n"), Ct);
        var output = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!output.ToString().Contains(marker, StringComparison.Ordinal))
        {
            var read = await shell.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, $"the shell ended before printing the marker; output so far: {output}");
            output.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        await shell.EndAsync(Ct);
        return output.ToString();
    }

    private async Task<ContainerInspectResponse> WorkerContainerAsync(string node, string containerId)
    {
        using var client = bed.NodeClient(node);
        return await client.Containers.InspectContainerAsync(containerId, Ct);
    }

    [Fact]
    public async Task Create_OnSwarm_LandsOnWorkerHardenedAndItsShellRunsThroughTheWorkersEngine()
    {
        await using var harness = await SwarmHarness.CreateAsync(bed);
        var owner = Harness.NewOwner();

        var record = await CreateAsync(harness, owner);

        var task = await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct);
        Assert.NotNull(task);
        Assert.Equal("running", task.State);
        Assert.Contains(task.Node, SwarmTestBed.Workers);
        Assert.NotNull(task.StartedAt);
        // status reports from the task: its state, its node (and that node's state) and when it started.
        var status = Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status;
        Assert.Equal(new TaskPlacement(task.Node, "ready", "running", null), status.Placement);
        Assert.Equal(task.StartedAt, status.StartedAt);
        // The container is on that worker's engine, with the service's labels and the plain backend's limits.
        var container = await WorkerContainerAsync(task.Node, task.ContainerId!);
        Assert.Equal(owner.ToString(), container.Config!.Labels!["dockhand.owner"]);
        Assert.True(container.Config!.Labels!.ContainsKey("dockhand.instance"));
        Assert.Equal(64L * 1024 * 1024, container.HostConfig!.Memory);
        Assert.Equal(500_000_000, container.HostConfig!.NanoCPUs);
        Assert.Equal(64, container.HostConfig!.PidsLimit);
        Assert.Contains("ALL", container.HostConfig!.CapDrop);
        Assert.True(container.HostConfig!.Init);
        Assert.Contains(container.Mounts, m => m.Type == "volume" && m.Destination == "/root");
        // The manager has no such container: the shell below can only have gone through the worker's engine.
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => bed.ManagerClient.Containers.InspectContainerAsync(task.ContainerId!, Ct));

        var output = await ShellRoundTripAsync(harness.Runtime, record.ContainerId, "hostname; grep NoNewPrivs /proc/self/status");

        Assert.Contains(container.Config!.Hostname, output, StringComparison.Ordinal);
        Assert.Matches(@"NoNewPrivs:\s+1", output);

        // Without an endpoint for that node, the shell is refused with a sentence that names the node.
        var partial = bed.Endpoints.Where(e => e.Key != task.Node).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        await using var blind = await SwarmHarness.CreateAsync(bed, bed.Settings(partial));
        var refused = await Assert.ThrowsAsync<EngineRefusedException>(() => blind.Runtime.StartShellAsync(record.ContainerId, new ShellSpec("/bin/sh", []), Ct));
        Assert.Contains(task.Node, refused.Message, StringComparison.Ordinal);
        Assert.Contains(SwarmSettings.Keys.NodeEndpoints, refused.Message, StringComparison.Ordinal);

        Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, cancellationToken: Ct));
    }

    [Fact]
    public async Task StopStartRestartDestroy_OnSwarm_ScaleForceUpdateAndRemoveTheService()
    {
        await using var harness = await SwarmHarness.CreateAsync(bed);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);
        var first = await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct);
        await ShellRoundTripAsync(harness.Runtime, record.ContainerId, "echo kept > /root/marker");

        var stopped = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Stop, Actor.Cli("test"), Ct));
        var service = await bed.ManagerClient.Swarm.InspectServiceAsync(record.ContainerId, Ct);
        Assert.Equal(LiveState.Exited, stopped.Status.State);
        Assert.Equal(0UL, service.Spec!.Mode!.Replicated!.Replicas);

        var started = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct));
        var afterStart = await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct);
        Assert.Equal(LiveState.Running, started.Status.State);
        Assert.NotNull(started.Status.StartedAt);
        Assert.Equal(first!.Node, afterStart!.Node);

        var restarted = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Restart, Actor.Cli("test"), Ct));
        var afterRestart = await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct);
        service = await bed.ManagerClient.Swarm.InspectServiceAsync(record.ContainerId, Ct);
        Assert.Equal(LiveState.Running, restarted.Status.State);
        Assert.Equal(1UL, service.Spec!.TaskTemplate!.ForceUpdate);
        Assert.NotEqual(afterStart.TaskId, afterRestart!.TaskId);
        Assert.Equal(first.Node, afterRestart.Node);
        // Same node, same home: the file written before stop survived stop, start and restart.
        Assert.Contains("kept", await ShellRoundTripAsync(harness.Runtime, record.ContainerId, "cat /root/marker"), StringComparison.Ordinal);

        Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, cancellationToken: Ct));
        await Assert.ThrowsAsync<DockerApiException>(() => bed.ManagerClient.Swarm.InspectServiceAsync(record.ContainerId, Ct));
        using var worker = bed.NodeClient(first.Node);
        var left = await worker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"dockhand.owner={owner}"] = true } },
        }, Ct);
        Assert.Empty(left);
        Assert.Empty(await harness.Runtime.ListVolumesAsync(new Dictionary<string, string> { ["dockhand.owner"] = owner.ToString() }, Ct));
    }

    [Fact]
    public async Task Start_PinnedNodeDrained_RefusesNoSuitableNodeAndNewOwnersGoToTheOtherWorker()
    {
        await using var harness = await SwarmHarness.CreateAsync(bed);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);
        var home = (await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct))!.Node;
        var other = SwarmTestBed.Workers.Single(w => w != home);
        Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Stop, Actor.Cli("test"), Ct));
        await SetAvailabilityAsync(home, "drain");
        try
        {
            var refused = Assert.IsType<StatusResult.Refused>(await harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct));
            var newcomer = Harness.NewOwner();
            var placed = await CreateAsync(harness, newcomer);
            var newcomerTask = await harness.Swarm.InspectTaskAsync(placed.ContainerId, Ct);

            Assert.StartsWith("No suitable node", refused.Reason.Message, StringComparison.Ordinal);
            Assert.Contains(home, refused.Reason.Message, StringComparison.Ordinal);
            // The refused start left the service scaled to 0, not pending behind the user's back.
            var service = await bed.ManagerClient.Swarm.InspectServiceAsync(record.ContainerId, Ct);
            Assert.Equal(0UL, service.Spec!.Mode!.Replicated!.Replicas);
            Assert.Equal(other, newcomerTask!.Node);
            Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(newcomer, Actor.Cli("test"), purge: true, cancellationToken: Ct));
        }
        finally
        {
            await SetAvailabilityAsync(home, "active");
        }

        var started = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct));
        Assert.Equal(LiveState.Running, started.Status.State);
        Assert.Equal(home, (await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct))!.Node);
        Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, cancellationToken: Ct));
    }

    private async Task SetAvailabilityAsync(string hostname, string availability)
    {
        var node = (await bed.ManagerClient.Swarm.ListNodesAsync(CancellationToken.None)).Single(n => n.Description!.Hostname == hostname);
        await bed.ManagerClient.Swarm.UpdateNodeAsync(node.ID, node.Version!.Index ?? 0, new NodeUpdateParameters
        {
            Name = node.Spec!.Name,
            Labels = node.Spec.Labels,
            Role = node.Spec.Role,
            Availability = availability,
        }, CancellationToken.None);
    }
}
