using Version = System.Version;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class EngineNegotiationTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PingAsync_RealEngine_NegotiatesMinOfClientAndServer()
    {
        using var engine = new DockerContainerRuntime(new ContainerOptions { DockerHost = fixture.DockerHost });

        var health = await engine.PingAsync(Ct);

        Assert.True(health.Reachable, health.Error);
        var server = Version.Parse(health.ServerApiVersion!);
        var expected = server < NegotiatingDockerClient.ClientMaxApiVersion ? server : NegotiatingDockerClient.ClientMaxApiVersion;
        Assert.Equal(expected, engine.NegotiatedApiVersion);
    }

    [Fact]
    public async Task Client_NewEngineThatRefusesOldVersions_UsesClientMaximum()
    {
        await using var fake = new FakeEngine(maxVersion: "1.52", minVersion: "1.44");
        using var engine = new DockerContainerRuntime(new ContainerOptions { DockerHost = fake.Endpoint });

        var list = await engine.ListManagedAsync(null, Ct);

        Assert.Empty(list);
        Assert.Contains("/v1.51/containers/json", fake.Paths.Select(p => p.Split('?')[0]));
        Assert.Equal(new Version(1, 51), engine.NegotiatedApiVersion);
    }

    [Fact]
    public async Task Client_OldEngine_UsesServerVersion()
    {
        await using var fake = new FakeEngine(maxVersion: "1.41", minVersion: "1.12");
        using var engine = new DockerContainerRuntime(new ContainerOptions { DockerHost = fake.Endpoint });

        await engine.ListManagedAsync(null, Ct);

        Assert.Contains("/v1.41/containers/json", fake.Paths.Select(p => p.Split('?')[0]));
    }

    [Theory]
    [InlineData("unix:///tmp/dockhand-no-such.sock")]
    [InlineData("tcp://127.0.0.1:1")]
    public async Task PingAsync_DeadEndpoint_ReportsUnreachableInOneLine(string endpoint)
    {
        using var engine = new DockerContainerRuntime(new ContainerOptions { DockerHost = new Uri(endpoint) });

        var health = await engine.PingAsync(Ct);

        Assert.False(health.Reachable);
        Assert.NotNull(health.Error);
        Assert.DoesNotContain('\n', health.Error);
        Assert.Null(engine.NegotiatedApiVersion);
    }
}
