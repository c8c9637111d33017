using Dockhand.Containers.Engine;
using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class ImageListTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ListSelectableImagesAsync_NoAllowlist_DefaultFirstThenLocalImages()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var images = await harness.Service.ListSelectableImagesAsync(Ct);

        Assert.Equal(EngineFixture.TestImage, images[0]);
        Assert.Contains("dockhand-test/debian-bash:bookworm", images);
        Assert.Equal(images.Count, images.Distinct(StringComparer.Ordinal).Count());
        Assert.DoesNotContain(images, i => i.StartsWith("<none>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ListSelectableImagesAsync_Allowlist_OnlyAllowedImagesWithoutAskingTheEngine()
    {
        // A dead engine proves the allowlist is answered without it.
        await using var harness = await Harness.CreateAsync(fixture, o => o with
        {
            DockerHost = new Uri("unix:///tmp/dockhand-no-such-engine.sock"),
            ImageAllowlist = ["debian:12", EngineFixture.TestImage],
        });

        var images = await harness.Service.ListSelectableImagesAsync(Ct);

        Assert.Equal([EngineFixture.TestImage, "debian:12"], images);
    }

    [Fact]
    public async Task ListSelectableImagesAsync_EngineDown_ThrowsEngineUnavailable()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { DockerHost = new Uri("unix:///tmp/dockhand-no-such-engine.sock") });

        await Assert.ThrowsAsync<EngineUnavailableException>(() => harness.Service.ListSelectableImagesAsync(Ct));
    }
}
