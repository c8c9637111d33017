using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

/// <summary>Each owner's home volume (CONTAINER_VOLUME_PATH, default /root) outlives destroy unless purged.</summary>
public sealed class HomeVolumeTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<CreateResult.Created> CreateAsync(Harness harness, OwnerId owner)
        => Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName("home")), cancellationToken: Ct));

    [Fact]
    public async Task Create_AfterDestroy_MountsTheKeptHomeWithItsFiles()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var first = await CreateAsync(harness, owner);
        await harness.ExecAsync(first.Status.Record.ContainerId, "sh", "-c", "echo kept-$HOSTNAME > /root/notes.txt");

        var destroyed = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct));
        var second = await CreateAsync(harness, owner);

        Assert.False(first.HomeRestored);
        Assert.Equal(HomeOutcome.Kept, destroyed.Home);
        Assert.True(second.HomeRestored);
        Assert.Equal($"kept-{first.Status.Record.Name}\n", await harness.ExecAsync(second.Status.Record.ContainerId, "cat", "/root/notes.txt"));
        var volume = Assert.Single(await harness.ScopedVolumesAsync());
        Assert.Equal(("true", owner.ToString(), harness.InstanceId), (volume.Labels["dockhand.managed"], volume.Labels["dockhand.owner"], volume.Labels["dockhand.instance"]));
    }

    [Fact]
    public async Task Destroy_WithPurge_DeletesTheHomeAndItsFiles()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var first = await CreateAsync(harness, owner);
        await harness.ExecAsync(first.Status.Record.ContainerId, "sh", "-c", "echo gone > /root/notes.txt");

        var destroyed = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, Ct));
        var volumesAfterPurge = await harness.ScopedVolumesAsync();
        var second = await CreateAsync(harness, owner);

        Assert.Equal(HomeOutcome.Purged, destroyed.Home);
        Assert.Empty(volumesAfterPurge);
        Assert.False(second.HomeRestored);
        Assert.Equal("", await harness.ExecAsync(second.Status.Record.ContainerId, "sh", "-c", "cat /root/notes.txt 2>/dev/null || true"));
    }

    [Fact]
    public async Task Destroy_PurgeWithoutContainer_DeletesTheKeptHome()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        await CreateAsync(harness, owner);
        await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct);
        var kept = await harness.Service.ListHomesAsync(cancellationToken: Ct);

        var purged = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, Ct));

        Assert.Equal(owner, Assert.Single(kept).Owner);
        Assert.Null(purged.Record);
        Assert.Equal(HomeOutcome.Purged, purged.Home);
        Assert.Empty(await harness.ScopedVolumesAsync());
    }

    [Fact]
    public async Task Create_VolumeDriverWithOptions_MakesTheHomeWithThemOnTheEngine()
    {
        // The local driver with tmpfs options stands in for shared storage (nfs takes the same type/o/device options).
        await using var harness = await Harness.CreateAsync(fixture, o => o with
        {
            VolumeDriver = "local",
            VolumeDriverOptions = new Dictionary<string, string> { ["type"] = "tmpfs", ["device"] = "tmpfs", ["o"] = "size=16m,mode=0750" },
        });
        var owner = Harness.NewOwner();

        var created = await CreateAsync(harness, owner);

        var volume = Assert.Single(await harness.ScopedVolumesAsync());
        Assert.Equal("local", volume.Driver);
        Assert.Equal("tmpfs", volume.Options["type"]);
        Assert.Equal("size=16m,mode=0750", volume.Options["o"]);
        // The container's home is that tmpfs, 16 MiB as the options said.
        var mount = await harness.ExecAsync(created.Status.Record.ContainerId, "sh", "-c", "grep ' /root ' /proc/mounts; df -k /root | tail -1");
        Assert.Contains("tmpfs /root tmpfs", mount, StringComparison.Ordinal);
        Assert.Contains("16384", mount, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_OwnerWithHome_ShowsTheVolume()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        await CreateAsync(harness, owner);

        var status = Assert.IsType<StatusResult.Found>(await harness.Service.StatusAsync(owner, Ct)).Status;

        Assert.Equal(ContainerService.HomeVolumeName(harness.InstanceId, owner), status.Home?.Name);
    }

    [Fact]
    public async Task Create_VolumePathEmpty_MakesNoVolume()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { VolumePath = "" });
        var owner = Harness.NewOwner();

        await CreateAsync(harness, owner);
        var destroyed = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), cancellationToken: Ct));

        Assert.Empty(await harness.ScopedVolumesAsync());
        Assert.Equal(HomeOutcome.None, destroyed.Home);
    }

    [Fact]
    public async Task Create_FailsAfterMakingANewHome_RollsTheHomeBack()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var taken = Harness.NewName("taken");
        // A container of the same Docker name, made outside Dockhand: the engine refuses the create (409).
        await harness.RunForeignAsync(taken, new Dictionary<string, string>());

        var result = await harness.Service.CreateAsync(harness.Request(owner, taken), cancellationToken: Ct);

        Assert.IsType<CreateResult.Refused>(result);
        Assert.Empty(await harness.ScopedVolumesAsync());
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task Create_UnlabelledVolumeUnderThisInstancesHomeName_MountsItAsTheHome()
    {
        // What an engine killed in the middle of creating a volume leaves on restart: the directory, without its labels.
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = ContainerService.HomeVolumeName(harness.InstanceId, owner);
        await harness.Docker.Volumes.CreateAsync(new Docker.DotNet.Models.VolumesCreateParameters { Name = name }, Ct);
        try
        {
            var created = await CreateAsync(harness, owner);

            Assert.False(created.HomeRestored);
            var purged = Assert.IsType<DestroyResult.Destroyed>(await harness.Service.DestroyAsync(owner, Actor.Cli("test"), purge: true, Ct));
            Assert.Equal(HomeOutcome.Purged, purged.Home);
        }
        finally
        {
            try
            {
                await harness.Docker.Volumes.RemoveAsync(name, force: true, CancellationToken.None);
            }
            catch (Docker.DotNet.DockerApiException)
            {
            }
        }
    }

    [Fact]
    public async Task Create_VolumeUnderThisHomeNameLabelledForAnotherInstance_RefusedAndUntouched()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = ContainerService.HomeVolumeName(harness.InstanceId, owner);
        await harness.Docker.Volumes.CreateAsync(new Docker.DotNet.Models.VolumesCreateParameters
        {
            Name = name,
            Labels = new Dictionary<string, string> { ["dockhand.managed"] = "true", ["dockhand.instance"] = "ffffffffffffffff", ["dockhand.owner"] = owner.ToString(), [Harness.ScopeLabel] = harness.Scope },
        }, Ct);

        var result = await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct);

        Assert.IsType<Refusals.HomeVolumeNotOurs>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Equal(name, Assert.Single(await harness.ScopedVolumesAsync()).Name);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
    }
}
