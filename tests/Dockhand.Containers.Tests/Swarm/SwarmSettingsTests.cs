using Dockhand.Containers.Swarm;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Containers.Tests.Swarm;

public sealed class SwarmSettingsTests
{
    private static readonly ContainerOptions SwarmReady = new() { Network = "none" };

    private static IConfiguration Configuration(params (string Key, string Value)[] pairs)
        => new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();

    [Fact]
    public void FromConfiguration_NoBackend_IsDocker()
        => Assert.Equal(ContainerBackend.Docker, SwarmSettings.FromConfiguration(Configuration(), new ContainerOptions()).Backend);

    [Fact]
    public void FromConfiguration_SwarmWithEndpoints_ParsesEachNode()
    {
        var settings = SwarmSettings.FromConfiguration(Configuration(("CONTAINER_BACKEND", "swarm"),
            ("SWARM_NODE_ENDPOINTS", "node-a=unix:///run/a.sock, node-b=unix:///run/b.sock")), SwarmReady);

        Assert.Equal(ContainerBackend.Swarm, settings.Backend);
        Assert.Equal(new Uri("unix:///run/a.sock"), settings.NodeEndpoints["node-a"]);
        Assert.Equal(new Uri("unix:///run/b.sock"), settings.NodeEndpoints["node-b"]);
    }

    [Theory]
    [InlineData("CONTAINER_BACKEND", "kubernetes", "CONTAINER_BACKEND: 'kubernetes' is not a backend")]
    [InlineData("SWARM_NODE_ENDPOINTS", "node-a", "SWARM_NODE_ENDPOINTS: 'node-a' is not hostname=")]
    [InlineData("SWARM_NODE_ENDPOINTS", "node-a=http://x:2375", "SWARM_NODE_ENDPOINTS: 'node-a=http://x:2375' is not hostname=")]
    [InlineData("SWARM_NODE_ENDPOINTS", "node-a=unix:///a,node-a=unix:///b", "SWARM_NODE_ENDPOINTS: the node node-a is named twice.")]
    [InlineData("SWARM_NODE_ENDPOINTS", "node-a=tcp://10.0.0.2:2376", "SWARM_TLS_CERT_PATH: SWARM_NODE_ENDPOINTS names a tcp:// engine")]
    public void FromConfiguration_BadValue_ThrowsOneLineNamingTheKey(string key, string value, string expectedStart)
    {
        var pairs = new Dictionary<string, string> { ["CONTAINER_BACKEND"] = "swarm", [key] = value };
        var error = Assert.Throws<InvalidSettingException>(() => SwarmSettings.FromConfiguration(Configuration([.. pairs.Select(p => (p.Key, p.Value))]), SwarmReady));

        Assert.StartsWith(expectedStart, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void FromConfiguration_TcpEndpointWithCertDirectoryMissingKey_NamesTheMissingFile()
    {
        var directory = Directory.CreateTempSubdirectory("dockhand-tls-").FullName;
        File.WriteAllText(Path.Combine(directory, "ca.pem"), "");
        File.WriteAllText(Path.Combine(directory, "cert.pem"), "");
        try
        {
            var error = Assert.Throws<InvalidSettingException>(() => SwarmSettings.FromConfiguration(Configuration(("CONTAINER_BACKEND", "swarm"),
                ("SWARM_NODE_ENDPOINTS", "n=tcp://10.0.0.2:2376"), ("SWARM_TLS_CERT_PATH", directory)), SwarmReady));

            Assert.Contains(Path.Combine(directory, "key.pem"), error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void FromConfiguration_SwarmWithInstanceNetwork_RefusesAndSaysWhatToSet()
    {
        var error = Assert.Throws<InvalidSettingException>(() => SwarmSettings.FromConfiguration(Configuration(("CONTAINER_BACKEND", "swarm")), new ContainerOptions()));

        Assert.Equal(ContainerOptions.Keys.Network, error.Key);
        Assert.Contains("CONTAINER_NETWORK to none", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromConfiguration_SwarmWithDiskLimit_RefusesBecauseServicesCannotEnforceIt()
    {
        var error = Assert.Throws<InvalidSettingException>(() => SwarmSettings.FromConfiguration(Configuration(("CONTAINER_BACKEND", "swarm")),
            SwarmReady with { DiskLimitBytes = 1L << 30 }));

        Assert.Equal(ContainerOptions.Keys.DiskLimit, error.Key);
    }
}
