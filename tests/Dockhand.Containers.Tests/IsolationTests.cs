using System.Diagnostics;
using System.Text.Json;
using Docker.DotNet.Models;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

/// <summary>
/// Isolation on the real engine: the instance network (labelled, inter-container traffic off), the settings refused at
/// start-up, the disk limit against this engine's storage driver, and doctor's reading of the host firewall.
/// Networks are a limited resource (address pools): these tests make at most three, all removed by label.
/// </summary>
public sealed class IsolationTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<Harness> InstanceNetworkHarnessAsync() => Harness.CreateAsync(fixture, o => o with { Network = "" });

    [Fact]
    public async Task CreateAsync_DefaultNetwork_TwoContainersOfOneInstanceCannotReachEachOther()
    {
        await using var harness = await InstanceNetworkHarnessAsync();
        var a = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName("iso-a")), cancellationToken: Ct)).Status.Record.ContainerId;
        var b = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName("iso-b")), cancellationToken: Ct)).Status.Record.ContainerId;

        var networkName = InstanceNetwork.Name(harness.InstanceId);
        var inspectA = await harness.Docker.Containers.InspectContainerAsync(a, Ct);
        var inspectB = await harness.Docker.Containers.InspectContainerAsync(b, Ct);
        Assert.Equal(networkName, inspectA.HostConfig!.NetworkMode);
        Assert.Equal(networkName, inspectB.HostConfig!.NetworkMode);
        var ipB = inspectB.NetworkSettings!.Networks[networkName].IPAddress;
        Assert.False(string.IsNullOrEmpty(ipB));
        Assert.Equal(inspectA.NetworkSettings!.Networks[networkName].NetworkID, inspectB.NetworkSettings.Networks[networkName].NetworkID);

        // B serves a page on its address (busybox httpd binds before it daemonizes, so it is listening when exec returns).
        await harness.ExecAsync(b, "sh", "-c", "mkdir -p /tmp/www && echo reachable > /tmp/www/index.html && httpd -p 8080 -h /tmp/www");
        // busybox 1.35's wget crashes with -q or -T, hence timeout(1) around it and stderr dropped.
        var fromItself = await harness.ExecAsync(b, "sh", "-c", $"timeout 3 wget -O - http://{ipB}:8080/ 2>/dev/null; echo rc=$?");
        var fromNeighbour = await harness.ExecAsync(a, "sh", "-c", $"timeout 3 wget -O - http://{ipB}:8080/ 2>/dev/null; echo rc=$?");

        Assert.Contains("reachable", fromItself, StringComparison.Ordinal);
        Assert.DoesNotContain("reachable", fromNeighbour, StringComparison.Ordinal);
        Assert.Matches("rc=[1-9]", fromNeighbour);
    }

    [Fact]
    public async Task CreateAsync_DefaultNetwork_MakesOneLabelledBridgeWithIccOffAndReusesIt()
    {
        await using var harness = await InstanceNetworkHarnessAsync();
        var reopened = await harness.ReopenAsync(o => o with { Network = "" });
        await using var _ = reopened;

        // Two services on one database (two processes of one instance) race to make the network: both creates succeed.
        var results = await Task.WhenAll(
            harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName("net-a")), cancellationToken: Ct),
            reopened.Service.CreateAsync(reopened.Request(Harness.NewOwner(), Harness.NewName("net-b")), cancellationToken: Ct));

        Assert.All(results, r => Assert.IsType<CreateResult.Created>(r));
        var network = Assert.Single(await harness.ScopedNetworksAsync());
        Assert.Equal(InstanceNetwork.Name(harness.InstanceId), network.Name);
        Assert.Equal("bridge", network.Driver);
        Assert.Equal("true", network.Labels["dockhand.managed"]);
        Assert.Equal(harness.InstanceId, network.Labels["dockhand.instance"]);
        Assert.Equal(fixture.RunId, network.Labels["dockhand.test"]);
        Assert.Equal("false", network.Options["com.docker.network.bridge.enable_icc"]);
        Assert.Equal(InstanceNetwork.BridgeName(harness.InstanceId), network.Options["com.docker.network.bridge.name"]);
        var attached = (await harness.Docker.Networks.InspectNetworkAsync(network.ID, Ct)).Containers;
        Assert.Equal(2, attached.Count);
        // The engine refuses a second network with this bridge name, which is what makes the race safe on API 1.41
        // (whose network create does not refuse a duplicate name).
        Assert.False(await harness.Engine.CreateNetworkAsync(network.Name, new Dictionary<string, string> { ["dockhand.test"] = fixture.RunId, [Harness.ScopeLabel] = harness.Scope }, InstanceNetwork.CreateOptions(harness.InstanceId), Ct));
        Assert.Single(await harness.ScopedNetworksAsync());
    }

    [Fact]
    public async Task CreateAsync_NetworkOfThatNameNotOurs_RefusedWithOneSentenceAndNothingCreated()
    {
        await using var harness = await InstanceNetworkHarnessAsync();
        var owner = Harness.NewOwner();
        // Someone else's network under this instance's network name: no Dockhand labels, containers may talk.
        await harness.Docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = InstanceNetwork.Name(harness.InstanceId),
            Driver = "bridge",
            Labels = new Dictionary<string, string> { ["dockhand.test"] = fixture.RunId, [Harness.ScopeLabel] = harness.Scope },
        }, Ct);

        var result = await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct);

        var refusal = Assert.IsType<Refusals.NetworkNotUsable>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Equal("Containers cannot be created until an operator fixes this server's container network. Nothing was created.", refusal.Message);
        Assert.StartsWith($"the network {InstanceNetwork.Name(harness.InstanceId)} exists but was not made by this Dockhand instance", refusal.Detail, StringComparison.Ordinal);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
        Assert.Empty(await harness.ScopedVolumesAsync());
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), e => e.Outcome == "refused" && e.Detail!.Contains("NetworkNotUsable", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("host")]
    [InlineData("container:x")]
    public async Task Cli_NetworkHostOrContainer_RefusedAtStartUpWithOneLine(string network)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunCliAsync(harness, new() { ["CONTAINER_NETWORK"] = network }, "create", "--user", Harness.NewOwner().ToString(), "--name", Harness.NewName());

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"dockhand: configuration: CONTAINER_NETWORK: '{network}' would ", run.Err, StringComparison.Ordinal);
        Assert.Single(run.Err.TrimEnd().Split('\n'));
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task DiskLimit_ThisEngine_RefusedAtStartUpAndOnCreateUnlessItsDriverEnforcesIt()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { DiskLimitBytes = 10L * 1024 * 1024 * 1024 });
        var storage = await harness.Engine.GetStorageAsync(Ct);
        var support = DiskLimitSupport.Evaluate(storage);
        var owner = Harness.NewOwner();

        var created = await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct);

        if (support.Enforceable)
        {
            // Not reachable on this project's CI engine (overlay2 on ext4); kept so the test says what it expects elsewhere.
            var id = Assert.IsType<CreateResult.Created>(created).Status.Record.ContainerId;
            Assert.Equal((10L * 1024 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), (await harness.Docker.Containers.InspectContainerAsync(id, Ct)).HostConfig!.StorageOpt!["size"]);
            return;
        }
        var refusal = Assert.IsType<Refusals.DiskLimitNotEnforceable>(Assert.IsType<CreateResult.Refused>(created).Reason);
        Assert.Contains($"the engine stores containers with {storage}", refusal.Detail, StringComparison.Ordinal);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());

        // dockhand create: a bad setting (exit 2), before any database file is made.
        var fresh = Path.Combine(harness.Directory, "fresh.db");
        var cli = await RunCliAsync(harness, new() { ["CONTAINER_DISK_LIMIT"] = "10g", ["DATABASE_PATH"] = fresh }, "create", "--user", owner.ToString(), "--name", Harness.NewName());
        Assert.Equal(2, cli.ExitCode);
        Assert.Equal($"dockhand: configuration: CONTAINER_DISK_LIMIT: {ContainerService.DiskLimitSentence(support)}", cli.Err.Trim());
        Assert.False(File.Exists(fresh));

        // dockhand run: refused before the host starts, in one line naming the key and why.
        var run = await DockhandChild.RunAsync(harness.Directory, new Dictionary<string, string?>(harness.Settings())
        {
            ["CONTAINER_DISK_LIMIT"] = "10g",
            ["DISCORD_PUBLIC_KEY"] = string.Concat(Enumerable.Repeat("ab", 32)),
            ["LISTEN_URLS"] = "http://127.0.0.1:0",
        }, ["run"], cancellationToken: Ct);
        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"dockhand: configuration: CONTAINER_DISK_LIMIT: {ContainerService.DiskLimitSentence(support)}", run.Stderr.Trim());
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_DiskLimit_SaysWhetherThisEngineCanEnforceIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var support = DiskLimitSupport.Evaluate(await harness.Engine.GetStorageAsync(Ct));

        var unset = await DoctorChecksAsync(harness, new());
        var set = await DoctorChecksAsync(harness, new() { ["CONTAINER_DISK_LIMIT"] = "10g" });

        Assert.True(unset.Ok);
        Assert.Equal($"off (CONTAINER_DISK_LIMIT is empty); {(support.Enforceable ? "enforceable" : "not enforceable")} on this engine: {support.Explanation}", unset.Checks["disk-limit"].Detail);
        Assert.Equal(support.Enforceable, set.Ok);
        Assert.Equal(support.Enforceable, set.Checks["disk-limit"].Ok);
    }

    [Fact]
    public async Task Doctor_InstanceNetwork_ReadsTheHostsMetadataRuleAndOnlyWarns()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var bridge = InstanceNetwork.BridgeName(harness.InstanceId);
        // A rule for this instance's bridge, which does not exist (no create ran), so it can affect no traffic.
        string[] rule = ["DOCKER-USER", "-i", bridge, "-d", "169.254.169.254/32", "-j", "DROP"];

        var without = await DoctorChecksAsync(harness, new() { ["CONTAINER_NETWORK"] = "" });
        Assert.Equal(0, await IptablesAsync(["-I", .. rule]));
        try
        {
            var with = await DoctorChecksAsync(harness, new() { ["CONTAINER_NETWORK"] = "" });

            Assert.True(with.Ok);
            Assert.True(with.Checks["metadata-firewall"].Ok);
            Assert.Equal($"DOCKER-USER drops traffic from {bridge} to 169.254.169.254", with.Checks["metadata-firewall"].Detail);
        }
        finally
        {
            Assert.Equal(0, await IptablesAsync(["-D", .. rule]));
        }
        Assert.True(without.Ok);
        Assert.False(without.Checks["metadata-firewall"].Ok);
        Assert.Equal($"DOCKER-USER has no DROP for 169.254.169.254 on {bridge}; users' containers can reach cloud metadata (see the README, \"Network isolation\")", without.Checks["metadata-firewall"].Detail);
        Assert.Equal($"{InstanceNetwork.Name(harness.InstanceId)} (bridge {bridge}) does not exist yet; the first create makes it, with inter-container traffic off", without.Checks["network"].Detail);
        Assert.Empty(await harness.ScopedNetworksAsync());
    }

    [Fact]
    public async Task Doctor_NetworkNoneOrSharedBridge_NoFirewallCheckAndBridgeWarns()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var none = await DoctorChecksAsync(harness, new() { ["CONTAINER_NETWORK"] = "none" });
        var bridge = await DoctorChecksAsync(harness, new() { ["CONTAINER_NETWORK"] = "bridge" });

        Assert.Equal("none: containers have no network", none.Checks["network"].Detail);
        Assert.False(none.Checks.ContainsKey("metadata-firewall"));
        Assert.True(bridge.Ok);
        Assert.False(bridge.Checks["network"].Ok);
        Assert.StartsWith("bridge: every container joins the engine's default bridge, where users can reach each other's containers", bridge.Checks["network"].Detail, StringComparison.Ordinal);
        Assert.Contains("warn network: bridge:", (await RunCliAsync(harness, new() { ["CONTAINER_NETWORK"] = "bridge" }, "doctor")).Out, StringComparison.Ordinal);
    }

    private sealed record Doctor(bool Ok, Dictionary<string, (bool Ok, string Detail)> Checks);

    private static async Task<Doctor> DoctorChecksAsync(Harness harness, Dictionary<string, string?> overrides)
    {
        var run = await RunCliAsync(harness, overrides, "doctor", "--json");
        var root = JsonDocument.Parse(run.Out).RootElement;
        return new Doctor(root.GetProperty("ok").GetBoolean(), root.GetProperty("checks").EnumerateArray().ToDictionary(
            c => c.GetProperty("name").GetString()!, c => (c.GetProperty("ok").GetBoolean(), c.GetProperty("detail").GetString()!)));
    }

    private sealed record Run(int ExitCode, string Out, string Err);

    /// <summary>The real executable on the harness's settings (the CLI's in-process tests live in Dockhand.Tests).</summary>
    private static async Task<Run> RunCliAsync(Harness harness, Dictionary<string, string?> overrides, params string[] args)
    {
        var settings = harness.Settings();
        foreach (var (key, value) in overrides)
            settings[key] = value;
        var run = await DockhandChild.RunAsync(harness.Directory, settings, args, cancellationToken: Ct);
        return new Run(run.ExitCode, run.Stdout, run.Stderr);
    }

    private static async Task<int> IptablesAsync(string[] args)
    {
        var start = new ProcessStartInfo("iptables") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode;
    }
}
