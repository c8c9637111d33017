namespace Dockhand.Containers.Tests;

/// <summary>The sentence shown to Discord users never carries engine detail; operators get it in <see cref="ContainerRefusal.Detail"/>.</summary>
public sealed class RefusalMessageTests
{
    [Fact]
    public void EngineUnavailable_TransportFailure_MessageFixedDetailKept()
    {
        var refusal = new Refusals.EngineUnavailable("connection refused at tcp://10.0.0.5:2375");

        Assert.Equal("The Docker engine cannot be reached right now. Try again shortly, or ask an operator to check it.", refusal.Message);
        Assert.Equal("connection refused at tcp://10.0.0.5:2375", refusal.Detail);
    }

    [Fact]
    public void EngineRefused_RuntimeErrorWithHostPath_MessageFixedDetailKept()
    {
        const string engine = "OCI runtime create failed: runc create failed: mount /var/lib/docker/overlay2/abc/merged: permission denied";

        var refusal = new Refusals.EngineRefused(engine);

        Assert.Equal("The Docker engine refused the request. Ask an operator to check the engine and Dockhand's settings.", refusal.Message);
        Assert.DoesNotContain("/var/lib", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(engine, refusal.Detail);
    }

    [Theory]
    [InlineData("pull access denied for foo/bar, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", " (pull access denied)")]
    [InlineData("manifest for foo/bar:9 not found: manifest unknown: manifest unknown", " (not found)")]
    [InlineData("Get \"https://registry.invalid/v2/\": dial tcp: lookup registry.invalid on 10.0.0.2:53: no such host", "")]
    [InlineData("failed to register layer: open /var/lib/docker/overlay2/x/committed: no space left on device", "")]
    public void ImageUnavailable_EngineReason_MessageKeepsImageAndOnlyClassifiedReason(string engine, string shown)
    {
        var refusal = new Refusals.ImageUnavailable("foo/bar:9", engine);

        Assert.Equal($"The image 'foo/bar:9' could not be pulled{shown}. Check the name and tag, or ask an operator to load it.", refusal.Message);
        Assert.Equal(engine, refusal.Detail);
    }

    [Fact]
    public void AuditText_EngineRefusal_KeepsDetailForOperators()
    {
        var text = ContainerService.AuditText(new Refusals.EngineUnavailable("no socket at unix:///run/x.sock"));

        Assert.StartsWith("EngineUnavailable: The Docker engine cannot be reached right now.", text, StringComparison.Ordinal);
        Assert.EndsWith("[engine: no socket at unix:///run/x.sock]", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Detail_UserRefusal_IsNull()
    {
        Assert.Null(new Refusals.NameTaken("box").Detail);
    }
}
