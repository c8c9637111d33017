using Microsoft.Extensions.Configuration;

namespace Dockhand.Containers.Tests;

public sealed class ContainerOptionsTests
{
    private static ContainerOptions Bind(params (string Key, string Value)[] settings)
        => ContainerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void FromConfiguration_Empty_GivesDocumentedDefaults()
    {
        var options = Bind();

        Assert.Equal("containers.db", options.DatabasePath);
        Assert.Equal(new Uri("unix:///var/run/docker.sock"), options.DockerHost);
        Assert.Equal("ubuntu:24.04", options.DefaultImage);
        Assert.Equal(512L * 1024 * 1024, options.MemoryLimitBytes);
        Assert.Equal(1_000_000_000, options.NanoCpus);
        Assert.Equal(256, options.PidsLimit);
        Assert.True(options.NoNewPrivileges);
        Assert.Equal(ContainerOptions.DefaultCapabilities, options.CapAdd);
        Assert.Empty(options.ImageAllowlist);
        Assert.Equal(OrphanPolicy.Adopt, options.OrphanPolicy);
        Assert.Equal("/root", options.VolumePath);
    }

    [Fact]
    public void FromConfiguration_AllKeysSet_Bound()
    {
        var options = Bind(("DATABASE_PATH", "/data/x.db"), ("DOCKER_HOST", "tcp://10.0.0.1:2375"), ("DEFAULT_IMAGE", "debian:12"),
            ("CONTAINER_MEMORY_LIMIT", "1g"), ("CONTAINER_CPU_LIMIT", "0.5"), ("CONTAINER_PIDS_LIMIT", "100"), ("CONTAINER_CAP_ADD", "cap_chown, SETUID"),
            ("CONTAINER_NO_NEW_PRIVILEGES", "false"), ("IMAGE_ALLOWLIST", "debian:12, ubuntu"), ("ORPHAN_POLICY", "adopt"), ("CONTAINER_EXTRA_LABELS", "team=a,env=prod"));

        Assert.Equal("/data/x.db", options.DatabasePath);
        Assert.Equal("tcp", options.DockerHost.Scheme);
        Assert.Equal(1024L * 1024 * 1024, options.MemoryLimitBytes);
        Assert.Equal(500_000_000, options.NanoCpus);
        Assert.Equal(100, options.PidsLimit);
        Assert.Equal(["CHOWN", "SETUID"], options.CapAdd);
        Assert.False(options.NoNewPrivileges);
        Assert.True(options.IsImageAllowed("ubuntu:latest"));
        Assert.False(options.IsImageAllowed("alpine"));
        Assert.Equal(OrphanPolicy.Adopt, options.OrphanPolicy);
        Assert.Equal("prod", options.ExtraLabels["env"]);
    }

    [Theory]
    [InlineData("DOCKER_HOST", "bogus")]
    [InlineData("DOCKER_HOST", "ftp://x")]
    [InlineData("DEFAULT_IMAGE", "Not An Image")]
    [InlineData("CONTAINER_MEMORY_LIMIT", "lots")]
    [InlineData("CONTAINER_MEMORY_LIMIT", "1k")]
    [InlineData("CONTAINER_CPU_LIMIT", "-1")]
    [InlineData("CONTAINER_PIDS_LIMIT", "3")]
    [InlineData("CONTAINER_CAP_ADD", "SYS_ADMIN")]
    [InlineData("CONTAINER_CAP_ADD", "not a cap")]
    [InlineData("CONTAINER_NO_NEW_PRIVILEGES", "maybe")]
    [InlineData("IMAGE_ALLOWLIST", "ok:1,Bad Image")]
    [InlineData("ORPHAN_POLICY", "ignore")]
    [InlineData("CONTAINER_VOLUME_DRIVER", "nfs driver")]
    [InlineData("CONTAINER_VOLUME_DRIVER_OPTS", "type=nfs,rw")]
    [InlineData("CONTAINER_VOLUME_DRIVER_OPTS", "type=nfs,\"o=addr=10.0.0.5,rw")]
    [InlineData("CONTAINER_VOLUME_DRIVER_OPTS", "type=nfs,type=tmpfs")]
    [InlineData("CONTAINER_EXTRA_LABELS", "novalue")]
    [InlineData("CONTAINER_EXTRA_LABELS", "dockhand.owner=1")]
    public void FromConfiguration_BadValue_OneLineNamingTheKey(string key, string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Bind((key, value)));

        Assert.Equal(key, error.Key);
        Assert.StartsWith(key + ": ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void FromConfiguration_DefaultImageNotOnAllowlist_NamesDefaultImage()
    {
        var error = Assert.Throws<InvalidSettingException>(() => Bind(("IMAGE_ALLOWLIST", "debian:12")));

        Assert.Equal("DEFAULT_IMAGE", error.Key);
    }

    [Fact]
    public void FromConfiguration_ZeroLimits_MeanNoLimit()
    {
        var options = Bind(("CONTAINER_MEMORY_LIMIT", "0"), ("CONTAINER_CPU_LIMIT", "0"), ("CONTAINER_PIDS_LIMIT", "0"), ("CONTAINER_CAP_ADD", ""));

        Assert.Equal(0, options.MemoryLimitBytes);
        Assert.Equal(0, options.NanoCpus);
        Assert.Equal(0, options.PidsLimit);
        Assert.Empty(options.CapAdd);
    }

    [Fact]
    public void FromConfiguration_CapAddDockersDefaultSet_AllAccepted()
    {
        // Docker's default capabilities, as moby's oci/caps/defaults.go lists them (20.10 and since).
        string[] dockerDefaults = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"];

        var options = Bind(("CONTAINER_CAP_ADD", string.Join(",", dockerDefaults.Select(c => "cap_" + c.ToLowerInvariant()))));

        Assert.Equal(dockerDefaults, options.CapAdd);
        Assert.Equal(dockerDefaults.Order(), ContainerOptions.AllowedCapabilities.Order());
        Assert.All(ContainerOptions.DefaultCapabilities, c => Assert.Contains(c, dockerDefaults));
    }

    [Theory]
    [InlineData("SYS_TIME")]
    [InlineData("BPF")]
    [InlineData("PERFMON")]
    [InlineData("SYSLOG")]
    [InlineData("SYS_ADMIN")]
    [InlineData("NET_ADMIN")]
    [InlineData("SYS_PTRACE")]
    [InlineData("DAC_READ_SEARCH")]
    [InlineData("CHECKPOINT_RESTORE")]
    public void FromConfiguration_CapAddOutsideDockersDefaults_RefusedNamingIt(string capability)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Bind(("CONTAINER_CAP_ADD", $"CHOWN,cap_{capability.ToLowerInvariant()}")));

        Assert.Equal("CONTAINER_CAP_ADD", error.Key);
        Assert.StartsWith($"CONTAINER_CAP_ADD: {capability} is not in Docker's default capability set", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("host", "'host' would give every container the host's own network")]
    [InlineData("HOST", "'HOST' would give every container the host's own network")]
    [InlineData("container:x", "'container:x' would make containers share another container's network stack")]
    [InlineData("container:", "'container:' would make containers share another container's network stack")]
    [InlineData("Container:0123abcd", "'Container:0123abcd' would make containers share another container's network stack")]
    public void FromConfiguration_NetworkHostOrContainer_RefusedWithWhy(string value, string expected)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Bind(("CONTAINER_NETWORK", value)));

        Assert.Equal("CONTAINER_NETWORK", error.Key);
        Assert.StartsWith($"CONTAINER_NETWORK: {expected}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData(null, "", true)]
    [InlineData("", "", true)]
    [InlineData("none", "none", false)]
    [InlineData("team-net", "team-net", false)]
    public void FromConfiguration_Network_EmptyMeansTheInstanceNetwork(string? value, string expected, bool instanceNetwork)
    {
        var options = value is null ? Bind() : Bind(("CONTAINER_NETWORK", value));

        Assert.Equal(expected, options.Network);
        Assert.Equal(instanceNetwork, options.UsesInstanceNetwork);
    }

    [Theory]
    [InlineData(null, 0L)]
    [InlineData("", 0L)]
    [InlineData("0", 0L)]
    [InlineData("10g", 10L * 1024 * 1024 * 1024)]
    [InlineData("512m", 512L * 1024 * 1024)]
    [InlineData("1t", 1024L * 1024 * 1024 * 1024)]
    public void FromConfiguration_DiskLimit_ParsedAsBytes(string? value, long expected)
    {
        var options = value is null ? Bind() : Bind(("CONTAINER_DISK_LIMIT", value));

        Assert.Equal(expected, options.DiskLimitBytes);
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("10 gigs")]
    [InlineData("1m")]
    [InlineData("-5g")]
    public void FromConfiguration_DiskLimitBad_OneLineNamingTheKey(string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Bind(("CONTAINER_DISK_LIMIT", value)));

        Assert.Equal("CONTAINER_DISK_LIMIT", error.Key);
        Assert.StartsWith($"CONTAINER_DISK_LIMIT: '{value}' ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("create:after-intnet")]
    [InlineData("CREATE:AFTER-INTENT")]
    [InlineData("kill")]
    public void ThrowIfUnknownStep_UnknownStep_OneLineNamingTheKey(string value)
    {
        var error = Assert.Throws<InvalidSettingException>(() => FaultInjection.ThrowIfUnknownStep(value));

        Assert.Equal("DOCKHAND_FAULT_KILL_AT", error.Key);
        Assert.StartsWith("DOCKHAND_FAULT_KILL_AT: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ThrowIfUnknownStep_UnsetEmptyOrKnownStep_Accepts()
    {
        // Every step constant is in Steps.All (one left out would be refused at start-up as a typo), once each.
        var constants = typeof(FaultInjection.Steps)
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.NotEmpty(constants);
        Assert.Equal(constants.Order(StringComparer.Ordinal), FaultInjection.Steps.All.Order(StringComparer.Ordinal));

        foreach (var value in FaultInjection.Steps.All.Prepend("").Prepend(null))
            FaultInjection.ThrowIfUnknownStep(value); // throws on refusal
    }

    [Fact]
    public void FromConfiguration_VolumeDriverOptsWithQuotedCommas_KeepsEachValueWhole()
    {
        var options = Bind(("CONTAINER_VOLUME_DRIVER", "local"), ("CONTAINER_VOLUME_DRIVER_OPTS", "type=nfs, \"o=addr=10.0.0.5,rw,nfsvers=4\" ,device=:/export/homes"));

        Assert.Equal("local", options.VolumeDriver);
        Assert.Equal(new Dictionary<string, string> { ["type"] = "nfs", ["o"] = "addr=10.0.0.5,rw,nfsvers=4", ["device"] = ":/export/homes" }, options.VolumeDriverOptions);
        Assert.True(options.HomesOnSharedStorage);
        Assert.False(Bind().HomesOnSharedStorage);
    }
}
