using System.Text.Json;
using Dockhand.Containers.Swarm;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>
/// The operator CLI (the real executable) with CONTAINER_BACKEND=swarm on the test
/// bed: status names the task's node, doctor reports the backend, what service specs lack and each node's
/// no-new-privileges.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmCliTests(SwarmTestBed bed) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-swcli-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Run(int ExitCode, string Out, string Err);

    /// <summary>Runs the real dockhand executable (the CLI's internals are the host's own) on the test bed's settings.</summary>
    private async Task<Run> RunAsync(params string[] args)
    {
        var run = await DockhandChild.RunAsync(_directory, bed.ProcessSettings(_directory), args, cancellationToken: Ct);
        return new Run(run.ExitCode, run.Stdout, run.Stderr);
    }

    [Fact]
    public async Task StatusAndDoctor_OnSwarm_NameTheTasksNodeTheBackendAndEachNodesNoNewPrivileges()
    {
        var owner = Harness.NewOwner().ToString();
        Assert.Equal(0, (await RunAsync("create", "--user", owner, "--name", Harness.NewName("swcli"))).ExitCode);
        try
        {
            var json = await RunAsync("status", "--user", owner, "--json");
            var text = await RunAsync("status", "--user", owner);
            var doctor = await RunAsync("doctor");

            Assert.Equal(0, json.ExitCode);
            var node = JsonDocument.Parse(json.Out).RootElement.GetProperty("node");
            var hostname = node.GetProperty("hostname").GetString()!;
            Assert.Contains(hostname, SwarmTestBed.Workers);
            Assert.Equal(("ready", "running"), (node.GetProperty("state").GetString(), node.GetProperty("taskState").GetString()));
            Assert.Contains($"node {hostname} (ready), task running", text.Out, StringComparison.Ordinal);
            var lines = doctor.Out.Split('\n');
            Assert.Contains(lines, l => l.StartsWith($"ok   backend: swarm: manager {bed.ManagerHost}", StringComparison.Ordinal) && l.Contains("2 node(s) can take new containers", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("warn swarm-hardening: service specs on API 1.41 lack no-new-privileges", StringComparison.Ordinal));
            // Both workers measured (the manager holds no test image, so it is reported as not measured: a warning).
            var nnp = Assert.Single(lines, l => l.Contains(" no-new-privileges: ", StringComparison.Ordinal));
            foreach (var worker in SwarmTestBed.Workers)
                Assert.Contains($"{worker}: its dockerd sets no-new-privileges on every container", nnp, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(0, (await RunAsync("destroy", "--user", owner, "--purge")).ExitCode);
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
