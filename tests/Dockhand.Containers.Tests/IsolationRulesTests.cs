using Dockhand.Containers.Engine;

namespace Dockhand.Containers.Tests;

/// <summary>The engine-free rules of isolation: network naming and verification, disk-limit support, the firewall rule reader.</summary>
public sealed class IsolationRulesTests
{
    private const string Instance = "0123456789abcdef";

    private static readonly Dictionary<string, string> OwnLabels = new() { ["dockhand.managed"] = "true", ["dockhand.instance"] = Instance };

    [Fact]
    public void BridgeName_AnyInstance_FitsALinuxInterfaceName()
    {
        Assert.Equal("dh-0123456789ab", InstanceNetwork.BridgeName(Instance));
        Assert.True(InstanceNetwork.BridgeName(Instance).Length <= 15);
        Assert.Equal("dockhand-0123456789abcdef", InstanceNetwork.Name(Instance));
        Assert.Equal("false", InstanceNetwork.CreateOptions(Instance)["com.docker.network.bridge.enable_icc"]);
        Assert.Equal("dh-0123456789ab", InstanceNetwork.CreateOptions(Instance)["com.docker.network.bridge.name"]);
    }

    [Fact]
    public void Problem_OwnIsolatedBridge_None()
    {
        var network = new EngineNetwork("id", InstanceNetwork.Name(Instance), "bridge", OwnLabels, InstanceNetwork.CreateOptions(Instance));

        Assert.Null(InstanceNetwork.Problem(network, Instance));
    }

    [Fact]
    public void Problem_AnotherInstancesOrUnlabelled_SaysItIsNotOurs()
    {
        var other = new Dictionary<string, string>(OwnLabels) { ["dockhand.instance"] = "ffffffffffffffff" };

        var foreign = InstanceNetwork.Problem(new EngineNetwork("id", InstanceNetwork.Name(Instance), "bridge", other, InstanceNetwork.CreateOptions(Instance)), Instance);
        var unlabelled = InstanceNetwork.Problem(new EngineNetwork("id", InstanceNetwork.Name(Instance), "bridge", new Dictionary<string, string>(), InstanceNetwork.CreateOptions(Instance)), Instance);

        Assert.Contains("was not made by this Dockhand instance", foreign, StringComparison.Ordinal);
        Assert.Contains("was not made by this Dockhand instance", unlabelled, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("true")]
    public void Problem_IccNotOff_SaysContainersCanReachEachOther(string? icc)
    {
        var options = new Dictionary<string, string>();
        if (icc is not null)
            options["com.docker.network.bridge.enable_icc"] = icc;

        var problem = InstanceNetwork.Problem(new EngineNetwork("id", InstanceNetwork.Name(Instance), "bridge", OwnLabels, options), Instance);

        Assert.Contains("lets containers reach each other", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("overlay2", "extfs", false)]
    [InlineData("overlay2", "overlayfs", false)]
    [InlineData("overlay2", "xfs", true)]
    [InlineData("devicemapper", null, true)]
    [InlineData("btrfs", "btrfs", true)]
    [InlineData("zfs", "zfs", true)]
    [InlineData("vfs", "extfs", false)]
    [InlineData("fuse-overlayfs", "extfs", false)]
    public void Evaluate_StorageDriver_EnforceableOnlyWhereDockerEnforcesSize(string driver, string? fs, bool enforceable)
    {
        var support = DiskLimitSupport.Evaluate(new EngineStorage(driver, fs));

        Assert.Equal(enforceable, support.Enforceable);
        Assert.Contains(driver, support.Explanation, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 -i dh-0123456789ab -j DROP\n-A DOCKER-USER -j RETURN")]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 -i dh-0123456789ab -j REJECT --reject-with icmp-port-unreachable\n-A DOCKER-USER -j RETURN")]
    [InlineData("-A DOCKER-USER -d 169.254.0.0/16 -i dh-+ -j DROP\n-A DOCKER-USER -j RETURN")]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 -j DROP")]
    public void HasMetadataDrop_DropBeforeReturn_True(string rules)
        => Assert.True(HostFirewall.HasMetadataDrop("-N DOCKER-USER\n" + rules, "dh-0123456789ab"));

    [Theory]
    [InlineData("-A DOCKER-USER -j RETURN")]
    [InlineData("-A DOCKER-USER -j RETURN\n-A DOCKER-USER -d 169.254.169.254/32 -i dh-0123456789ab -j DROP")]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 -i docker0 -j DROP\n-A DOCKER-USER -j RETURN")]
    [InlineData("-A DOCKER-USER -d 10.0.0.0/8 -i dh-0123456789ab -j DROP")]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 -i dh-0123456789ab -p tcp -m tcp --dport 80 -j DROP")]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 ! -i dh-0123456789ab -j DROP")]
    [InlineData("-A DOCKER-USER -d 169.254.169.254/32 -i dh-0123456789ab -j ACCEPT")]
    public void HasMetadataDrop_NoEffectiveDrop_False(string rules)
        => Assert.False(HostFirewall.HasMetadataDrop("-N DOCKER-USER\n" + rules, "dh-0123456789ab"));

    [Fact]
    public async Task CheckMetadataDrop_RemoteEngine_CannotCheckWithoutRunningAnything()
    {
        var check = await HostFirewall.CheckMetadataDropAsync("dh-0123456789ab", new Uri("tcp://10.1.2.3:2375"), TestContext.Current.CancellationToken);

        Assert.False(check.Checked);
        Assert.StartsWith("cannot check: the engine at tcp://10.1.2.3:2375/ may be on another host", check.Detail, StringComparison.Ordinal);
    }
}
