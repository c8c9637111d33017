using System.Text.Json;
using Dockhand.Bot;
using Dockhand.Cli;
using Dockhand.Containers.Swarm;
using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>
/// The operator CLI (in-process, as CliTests runs it) and the bot's status embed with CONTAINER_BACKEND=swarm on the test
/// bed: status names the task's node, doctor reports the backend, what service specs lack and each node's
/// no-new-privileges.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmCliTests(SwarmTestBed bed) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-swcli-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Run(int ExitCode, string Out, string Err);

    private async Task<Run> RunAsync(params string[] args)
    {
        var settings = bed.ProcessSettings(_directory);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext(output, error, () => new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), isTerminal: false);
        var code = await CliApp.RunAsync(args, context, Ct);
        return new Run(code, output.ToString(), error.ToString());
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
    public void StatusEmbed_SwarmPlacement_ShowsTheNodeAndSaysWhenItIsDown()
    {
        var record = new ContainerRecord(Harness.NewOwner(), "box", "svc123", EngineFixture.TestImage, DateTimeOffset.UnixEpoch);
        var status = new ContainerStatus(record, LiveState.Running, null, null, null, null);

        var ready = BotMessages.StatusEmbed("Status", status with { Placement = new TaskPlacement("worker-1", "ready", "running", null) });
        var down = BotMessages.StatusEmbed("Status", status with { Placement = new TaskPlacement("worker-1", "down", "pending", "no suitable node") });
        var plain = BotMessages.StatusEmbed("Status", status);

        Assert.Equal("`worker-1`", Assert.Single(ready.Fields!, f => f.Name == "Node").Value);
        Assert.Equal("`worker-1` (down)", Assert.Single(down.Fields!, f => f.Name == "Node").Value);
        Assert.DoesNotContain(plain.Fields!, f => f.Name == "Node");
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
