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

    [Fact]
    public async Task Run_OnSwarm_ANodeWhoseDaemonDoesNotEnforceNoNewPrivileges_RefusesToStartNamingIt()
    {
        // Every node of the test bed enforces it, so worker-1's endpoint is pointed at the shared engine, whose daemon
        // does not (no daemon.json): the start-up probe measures whichever dockerd answers at a node's endpoint.
        await using var shared = new EngineFixture();
        await shared.InitializeAsync();
        Assert.False(await EnforcesNoNewPrivilegesAsync(shared), "the shared engine enforces no-new-privileges, so it cannot stand in for a node that does not");
        var worker = SwarmTestBed.Workers[0];
        var settings = bed.ProcessSettings(_directory);
        settings["SWARM_NODE_ENDPOINTS"] = string.Join(',', bed.Endpoints.Select(e => $"{e.Key}={(e.Key == worker ? shared.DockerHost : e.Value)}"));
        settings["DISCORD_PUBLIC_KEY"] = new string('a', 64);

        var run = await DockhandChild.RunAsync(_directory, settings, ["run"], cancellationToken: Ct);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"dockhand: configuration: CONTAINER_NO_NEW_PRIVILEGES: node {worker}: its dockerd does not set no-new-privileges", run.Stderr.Trim(), StringComparison.Ordinal);
        Assert.Contains("CONTAINER_NO_NEW_PRIVILEGES=false only to accept containers without it", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", run.Stderr + run.Stdout, StringComparison.Ordinal);
        var probes = await shared.Client.Containers.ListContainersAsync(new() { All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [NoNewPrivilegesProbe.ProbeLabel] = true } } }, Ct);
        Assert.Empty(probes); // the probe container that measured it is gone
    }

    /// <summary>What a container that does not ask for no-new-privileges gets from the shared engine's daemon.</summary>
    private static async Task<bool> EnforcesNoNewPrivilegesAsync(EngineFixture engine)
    {
        var id = await engine.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        var exec = await engine.Client.Exec.CreateContainerExecAsync(id, new() { Cmd = ["grep", "NoNewPrivs", "/proc/1/status"], AttachStdout = true }, Ct);
        using var stream = await engine.Client.Exec.StartContainerExecAsync(exec.ID, new() { Detach = false }, Ct);
        var (stdout, _) = await stream.ReadOutputToEndAsync(Ct);
        Assert.Contains("NoNewPrivs", stdout, StringComparison.Ordinal);
        return stdout.TrimEnd().EndsWith('1');
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
