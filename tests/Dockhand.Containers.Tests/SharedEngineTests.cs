using System.Text.Json;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

/// <summary>
/// Real processes on one engine: the CLI beside a running bot on one database, and two instances on two databases.
/// What used to go wrong: the bot took a live CLI process for a dead one and rolled its create back, and an instance
/// removed every Dockhand container its own database did not know.
/// </summary>
public sealed class SharedEngineTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> CliAsync(Harness harness, params string[] args)
    {
        var run = await DockhandChild.RunAsync(harness.Directory, harness.Settings(), [.. args, "--json"], cancellationToken: Ct);
        Assert.True(run.ExitCode == 0, $"dockhand {string.Join(' ', args)} exited {run.ExitCode}: {run.Stderr}{run.Stdout}");
        return run.Stdout;
    }

    private static string IdOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("containerId").GetString()!;

    [Fact]
    public async Task CliBesideRunningBot_RepeatedCreateRestartDestroy_EveryContainerStaysAndEveryRecordIsRight()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        await using var bot = await BotProcess.StartAsync(harness);
        var kept = new Dictionary<OwnerId, string>();
        var destroyed = new List<OwnerId>();

        for (var round = 0; round < 6; round++)
        {
            var owner = Harness.NewOwner();
            var id = IdOf(await CliAsync(harness, "create", "--user", owner.ToString(), "--name", Harness.NewName("beside")));
            // The bot's reconciler has now seen this create on the event stream: the moment the old proof failed.
            await bot.WaitForOutputAsync($"after create of {id}"); // a pass, or "no pass" for a create in flight
            await CliAsync(harness, "restart", "--user", owner.ToString());
            if (round % 2 == 1)
            {
                await CliAsync(harness, "destroy", "--user", owner.ToString());
                await bot.WaitForOutputAsync($"Reconciled after destroy of {id}");
                destroyed.Add(owner);
            }
            else
            {
                kept[owner] = id;
            }
        }

        var containers = await harness.ScopedContainersAsync();
        Assert.Equal(kept.Values.Order(), containers.Select(c => c.ID).Order());
        Assert.All(containers, c => Assert.Equal("running", c.State));
        foreach (var (owner, id) in kept)
            Assert.Equal(id, (await harness.Service.FindAsync(owner, Ct))?.ContainerId);
        foreach (var owner in destroyed)
            Assert.Null(await harness.Store.FindAsync(owner, Ct));
        Assert.Equal(kept.Count, await harness.RowCountAsync());
        Assert.DoesNotContain(await harness.Store.ReadAuditAsync(limit: 500, cancellationToken: Ct), a => a.Outcome is "create-rolled-back" or "orphan-removed" or "orphan-stopped");
        Assert.DoesNotContain("Rolled back an unfinished create", bot.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoInstancesOnOneEngine_EachRunsWhileBothCreateAndDestroy_NeitherTouchesTheOther()
    {
        // Two databases in one label scope: each instance sees the other's containers and volumes on the engine.
        await using var first = await Harness.CreateAsync(fixture);
        await using var second = await Harness.CreateAsync(fixture, scope: first.Scope);
        await using var firstBot = await BotProcess.StartAsync(first);
        await using var secondBot = await BotProcess.StartAsync(second);
        var owners = new Dictionary<Harness, List<(OwnerId Owner, string Id)>> { [first] = [], [second] = [] };

        for (var round = 0; round < 2; round++)
        {
            foreach (var (harness, bot) in new[] { (first, firstBot), (second, secondBot) })
            {
                var owner = Harness.NewOwner();
                var id = IdOf(await CliAsync(harness, "create", "--user", owner.ToString(), "--name", Harness.NewName("side")));
                await bot.WaitForOutputAsync($"after create of {id}"); // a pass, or "no pass" for a create in flight
                owners[harness].Add((owner, id));
            }
        }
        // One destroy each (home kept), then a pass on each database as the operator would run it.
        foreach (var harness in new[] { first, second })
            await CliAsync(harness, "destroy", "--user", owners[harness][0].Owner.ToString());
        var firstReport = JsonDocument.Parse(await CliAsync(first, "reconcile")).RootElement;
        var secondReport = JsonDocument.Parse(await CliAsync(second, "reconcile")).RootElement;

        var running = (await first.ScopedContainersAsync()).Where(c => c.State == "running").Select(c => c.ID).Order();
        Assert.Equal(new[] { owners[first][1].Id, owners[second][1].Id }.Order(), running);
        Assert.Equal(1, firstReport.GetProperty("foreignContainers").GetInt32());
        Assert.Equal(1, secondReport.GetProperty("foreignContainers").GetInt32());
        foreach (var report in new[] { firstReport, secondReport })
            Assert.Equal(0, report.GetProperty("removedOrphans").GetInt32() + report.GetProperty("adoptedOrphans").GetInt32() + report.GetProperty("stoppedOrphans").GetInt32());
        // Four homes: two per instance, the destroyed owners' kept, each labelled with its own instance.
        var volumes = await first.ScopedVolumesAsync();
        Assert.Equal(2, volumes.Count(v => v.Labels["dockhand.instance"] == first.InstanceId));
        Assert.Equal(2, volumes.Count(v => v.Labels["dockhand.instance"] == second.InstanceId));
        Assert.Equal(1, await first.RowCountAsync());
        Assert.Equal(1, await second.RowCountAsync());
    }

    [Fact]
    public async Task Destroy_FromADirectoryWithoutDatabase_SaysSoAndTouchesNothing()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName("stay")), cancellationToken: Ct));
        var elsewhere = Directory.CreateTempSubdirectory("dockhand-nowhere-").FullName;
        try
        {
            var settings = harness.Settings();
            settings["DATABASE_PATH"] = null;

            var run = await DockhandChild.RunAsync(elsewhere, settings, ["destroy", "--user", "999"], cancellationToken: Ct);

            Assert.Equal(2, run.ExitCode);
            Assert.Equal($"dockhand: no database at {Path.Combine(elsewhere, "containers.db")}; run dockhand from the directory that holds it, or set DATABASE_PATH", run.Stderr.Trim());
            Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
            Assert.Equal("running", Assert.Single(await harness.ScopedContainersAsync()).State);
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Fact]
    public async Task Run_Sigterm_ExitsZeroAndClosesItsSocket()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        await using var bot = await BotProcess.StartAsync(harness);

        var exit = await bot.TerminateAsync();

        Assert.Equal(0, exit);
        using var client = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(async () => await client.ConnectAsync(bot.BaseUrl.Host, bot.BaseUrl.Port, Ct));
    }
}
