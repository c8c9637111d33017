using Dockhand.Containers.Tests.Infrastructure;
using static Dockhand.Containers.Tests.Swarm.SwarmBackendTests;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>
/// A worker dies (its dockerd, containerd and containers SIGKILLed by scripts/swarm-testbed.sh crash-node) under an
/// owner's container, and comes back. The test bed's dispatcher heartbeat is 1 s, so the manager marks it down within
/// seconds; every wait is on a condition.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmNodeDownTests(SwarmTestBed bed)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Commands_WorkerCrashed_StatusSaysDownCommandsRefuseAndNothingIsLostOnceBack()
    {
        await using var harness = await SwarmHarness.CreateAsync(bed);
        var owner = Harness.NewOwner();
        var record = await CreateAsync(harness, owner);
        var node = (await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct))!.Node;
        await ShellRoundTripAsync(harness.Runtime, record.ContainerId, "echo kept > /root/marker");

        await bed.CrashNodeAsync(node);
        try
        {
            await bed.WaitForNodeStateAsync(node, "down", TimeSpan.FromSeconds(30));

            var status = Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status;
            Assert.Equal(node, status.Placement?.Node);
            Assert.Equal("down", status.Placement?.NodeState);
            foreach (var action in new[] { LifecycleAction.Stop, LifecycleAction.Start, LifecycleAction.Restart })
            {
                var refused = Assert.IsType<StatusResult.Refused>(await harness.Service.ApplyAsync(owner, action, Actor.Cli("test"), Ct));
                Assert.Equal($"The node {node} that holds this container and its home is down; nothing is lost, try again when it is back.", refused.Reason.Message);
            }
            var destroy = Assert.IsType<DestroyResult.Refused>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, cancellationToken: Ct));
            Assert.Contains(node, destroy.Reason.Message, StringComparison.Ordinal);
            var shell = await Assert.ThrowsAsync<EngineRefusedException>(() => harness.Runtime.StartShellAsync(record.ContainerId, new ShellSpec("/bin/sh", []), Ct));
            Assert.Contains(node, shell.Message, StringComparison.Ordinal);
            // The record is kept: nothing was destroyed behind the refusals.
            Assert.Equal(record.ContainerId, Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status.Record.ContainerId);
        }
        finally
        {
            await bed.StartNodeAsync(node);
        }
        await bed.WaitForNodeStateAsync(node, "ready", TimeSpan.FromSeconds(60));

        // Back: start runs it on the same node, with the same home and the file written before the crash.
        var started = Assert.IsType<StatusResult.Found>(await harness.Service.ApplyAsync(owner, LifecycleAction.Start, Actor.Cli("test"), Ct)).Status;
        Assert.Equal(LiveState.Running, started.State);
        Assert.Equal(node, (await harness.Swarm.InspectTaskAsync(record.ContainerId, Ct))!.Node);
        Assert.Contains("kept", await ShellRoundTripAsync(harness.Runtime, record.ContainerId, "cat /root/marker"), StringComparison.Ordinal);
        Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, cancellationToken: Ct));
    }
}
