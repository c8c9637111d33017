using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

public sealed class ContainerServiceCreateTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreateAsync_ValidRequest_RunsHardenedLabelledContainerAndRecordsIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var name = Harness.NewName("demo");

        var result = await harness.Service.CreateAsync(harness.Request(owner, name), cancellationToken: Ct);

        var created = Assert.IsType<CreateResult.Created>(result);
        Assert.Equal(LiveState.Running, created.Status.State);
        Assert.Equal(EngineFixture.TestImage, created.Status.Record.Image);
        var inspect = await harness.Docker.Containers.InspectContainerAsync(created.Status.Record.ContainerId, Ct);
        Assert.Equal(64L * 1024 * 1024, inspect.HostConfig!.Memory);
        Assert.Equal(500_000_000, inspect.HostConfig!.NanoCPUs);
        Assert.Equal(64, inspect.HostConfig!.PidsLimit);
        Assert.Equal(["ALL"], inspect.HostConfig!.CapDrop!);
        Assert.Equal(ContainerOptions.DefaultCapabilities.OrderBy(c => c), inspect.HostConfig!.CapAdd!.OrderBy(c => c));
        Assert.Contains("no-new-privileges:true", inspect.HostConfig!.SecurityOpt!);
        Assert.True(inspect.HostConfig!.Init);
        Assert.Equal("none", inspect.HostConfig!.NetworkMode);
        Assert.Equal(["tail", "-f", "/dev/null"], inspect.Config!.Cmd);
        Assert.Equal("true", inspect.Config!.Labels["dockhand.managed"]);
        Assert.Equal(owner.ToString(), inspect.Config!.Labels["dockhand.owner"]);
        Assert.Equal(name, inspect.Config!.Labels["dockhand.name"]);
        Assert.Equal(fixture.RunId, inspect.Config!.Labels["dockhand.test"]);
        Assert.True(inspect.State!.Running);

        var record = await harness.Service.FindAsync(owner, Ct);
        Assert.NotNull(record);
        Assert.Equal(created.Status.Record.ContainerId, record.ContainerId);
        var audit = await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct);
        Assert.Contains(audit, a => a.Action == "create" && a.Outcome == "created" && a.Actor == "cli:test");
    }

    [Fact]
    public async Task CreateAsync_ValidRequest_InsideTheContainerCapabilitiesAreTheSmallSetAndNoNewPrivsIsOn()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var created = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName()), cancellationToken: Ct));

        // Through the runtime's own shell, as the web terminal's is started: the shell replaces itself with grep, so the
        // output ends when grep does.
        await using var shell = await harness.Engine.StartShellAsync(created.Status.Record.ContainerId, new ShellSpec("/bin/sh", []), Ct);
        await shell.WriteAsync("exec grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status\n"u8.ToArray(), Ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        var output = new System.Text.StringBuilder();
        var buffer = new byte[4096];
        int read;
        while ((read = await shell.ReadAsync(buffer, limit.Token)) > 0)
            output.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, read));
        Assert.True(await shell.EndAsync(Ct));

        // CHOWN(0) DAC_OVERRIDE(1) FOWNER(3) FSETID(4) KILL(5) SETGID(6) SETUID(7) NET_BIND_SERVICE(10) = 0x4fb.
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split((char[])['\t', ' ', '\r'], StringSplitOptions.RemoveEmptyEntries))).ToList();
        Assert.Contains("CapEff: 00000000000004fb", lines);
        Assert.Contains("CapBnd: 00000000000004fb", lines);
        Assert.Contains("NoNewPrivs: 1", lines);
    }

    [Fact]
    public async Task CreateAsync_NoImageGiven_UsesDefaultImage()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName(), image: null), cancellationToken: Ct);

        Assert.Equal(EngineFixture.TestImage, Assert.IsType<CreateResult.Created>(result).Status.Record.Image);
    }

    [Fact]
    public async Task CreateAsync_OwnerAlreadyHasOne_RefusedWithExistingName()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var first = Harness.NewName();
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, first), cancellationToken: Ct));

        var second = await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct);

        var refusal = Assert.IsType<Refusals.AlreadyHasContainer>(Assert.IsType<CreateResult.Refused>(second).Reason);
        Assert.Contains(first, refusal.Message, StringComparison.Ordinal);
        Assert.Single(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task CreateAsync_NameUsedByAnotherOwner_NameTaken()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var name = Harness.NewName();
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), name), cancellationToken: Ct));

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), name), cancellationToken: Ct);

        Assert.IsType<Refusals.NameTaken>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Single(await harness.ScopedContainersAsync());
        Assert.Equal(1, await harness.RowCountAsync());
    }

    [Fact]
    public async Task CreateAsync_NameUsedByUnmanagedDockerContainer_NameTakenAndNoRecord()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var name = Harness.NewName("foreign");
        await harness.RunForeignAsync(name, new Dictionary<string, string>());

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), name), cancellationToken: Ct);

        Assert.IsType<Refusals.NameTaken>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task CreateAsync_ImageNotOnAllowlist_RefusedListingAllowed()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { ImageAllowlist = [EngineFixture.TestImage] });

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName(), "dockhand-test/debian-bash:bookworm"), cancellationToken: Ct);

        var refusal = Assert.IsType<Refusals.ImageNotAllowed>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Contains(EngineFixture.TestImage, refusal.Message, StringComparison.Ordinal);
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task CreateAsync_ImageOnAllowlist_Created()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { ImageAllowlist = [EngineFixture.TestImage] });

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName(), EngineFixture.TestImage), cancellationToken: Ct);

        Assert.IsType<CreateResult.Created>(result);
    }

    [Fact]
    public async Task CreateAsync_StatusInspectFailsAfterTheStart_ReportsItCreatedAndRunningAndKeepsIt()
    {
        // The only inspect a create makes is the one after the start, for the reply's status.
        await using var harness = await Harness.CreateAsync(fixture, engine: real => EngineFaults.Wrap(real,
            method => method == nameof(IContainerRuntime.InspectAsync) ? new EngineUnavailableException("the engine did not answer in time") : null));
        var owner = Harness.NewOwner();

        var result = await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct);

        var created = Assert.IsType<CreateResult.Created>(result);
        Assert.Equal(LiveState.Running, created.Status.State);
        Assert.Null(created.Status.StartedAt);
        var container = Assert.Single(await harness.ScopedContainersAsync());
        Assert.Equal("running", container.State);
        Assert.Equal(container.ID, (await harness.Service.FindAsync(owner, Ct))?.ContainerId);
        Assert.Contains(await harness.Store.ReadAuditAsync(owner, cancellationToken: Ct), a => a.Action == "create" && a.Outcome == "created");
    }

    [Fact]
    public async Task CreateAsync_GoAheadPending_WritesTheIntentButMakesNothingInTheEngineUntilItCompletes()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var goAhead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var creating = harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName()), goAhead: goAhead.Task, cancellationToken: Ct);
        await Eventually.TrueAsync(async () => await harness.RowCountAsync() == 1, "the intent row", Ct);
        // The checks beside the intent (image, network) have answered too once the row is there; what is left waits.
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Empty(await harness.ScopedVolumesAsync());
        Assert.False(creating.IsCompleted);
        goAhead.SetResult();

        Assert.IsType<CreateResult.Created>(await creating);
        Assert.Single(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task CreateAsync_GoAheadFails_RollsTheIntentBackAndThrowsItsFailure()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var refusedByDiscord = Task.FromException(new InvalidOperationException("the acknowledgement was refused"));
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), goAhead: refusedByDiscord, cancellationToken: Ct));

        Assert.Equal("the acknowledgement was refused", thrown.Message);
        Assert.Equal(0, await harness.RowCountAsync());
        // Not made and removed again: never made. The engine's own log of events says so.
        var events = await EngineEventsAsync(harness, since);
        var made = events.Where(e => e.Type == "container" && e.Actor?.Attributes is { } labels && labels.TryGetValue(Harness.ScopeLabel, out var scope) && scope == harness.Scope
            || e.Type == "volume" && e.Actor?.ID?.Contains(owner.ToString(), StringComparison.Ordinal) == true);
        Assert.Empty(made.Select(e => $"{e.Type} {e.Action} {e.Actor?.ID}"));
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct));
    }

    [Fact]
    public async Task CreateAsync_IntentRowCannotBeDeletedAfterGoAheadFails_ThrowsItsFailureAndTheNextCreateFinishesIt()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        var acknowledgement = new TaskCompletionSource();
        var first = harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), goAhead: acknowledgement.Task, cancellationToken: Ct);
        await Eventually.TrueAsync(async () => await harness.RowCountAsync() == 1, "the intent row", Ct);

        // The database refuses to delete rows (as it would when busy past its timeout, or gone) while the clean-up runs.
        await ExecuteAsync(harness, "CREATE TRIGGER refuse_delete BEFORE DELETE ON containers BEGIN SELECT RAISE(ABORT, 'the database refused the delete'); END");
        acknowledgement.SetException(new InvalidOperationException("the acknowledgement was refused"));
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        Assert.Equal("the acknowledgement was refused", thrown.Message);
        await ExecuteAsync(harness, "DROP TRIGGER refuse_delete");

        Assert.Equal(1, await harness.RowCountAsync()); // left behind, but given up: not a live operation's row
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct));
        Assert.Equal(1, await harness.RowCountAsync());
    }

    [Fact]
    public async Task CreateAsync_RefusedWhileGoAheadPending_ReturnsTheRefusalWithoutWaiting()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner();
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), cancellationToken: Ct));
        var neverAcknowledged = new TaskCompletionSource().Task;

        var result = await harness.Service.CreateAsync(harness.Request(owner, Harness.NewName()), goAhead: neverAcknowledged, cancellationToken: Ct);

        Assert.IsType<Refusals.AlreadyHasContainer>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Single(await harness.ScopedContainersAsync());
    }

    [Fact]
    public async Task CreateAsync_ImageThatDoesNotExist_RefusalNamesImageAndEngineReason()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var image = $"dockhand-test/does-not-exist-{Guid.NewGuid():N}:1";
        var reports = new List<PullProgress>();

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName(), image), new SyncProgress<PullProgress>(reports.Add), cancellationToken: Ct);

        var refusal = Assert.IsType<Refusals.ImageUnavailable>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Contains(image, refusal.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(refusal.EngineReason));
        Assert.Equal(refusal.EngineReason, refusal.Detail);
        Assert.DoesNotContain(refusal.EngineReason, refusal.Message, StringComparison.Ordinal);
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Equal(0, await harness.RowCountAsync());
    }

    [Fact]
    public async Task CreateAsync_EngineUnreachable_RefusedWithoutEngineDetailInMessageAndNothingRecorded()
    {
        await using var harness = await Harness.CreateAsync(fixture, o => o with { DockerHost = new Uri("unix:///tmp/dockhand-no-engine-here.sock") });

        var result = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName()), cancellationToken: Ct);

        var refusal = Assert.IsType<Refusals.EngineUnavailable>(Assert.IsType<CreateResult.Refused>(result).Reason);
        Assert.Equal("The Docker engine cannot be reached right now. Try again shortly, or ask an operator to check it.", refusal.Message);
        Assert.Contains("dockhand-no-engine-here.sock", refusal.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await harness.RowCountAsync());
    }

    /// <summary>Reports on the caller's thread, in order (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>Everything the engine logged from <paramref name="since"/> until now (containers, volumes, networks).</summary>
    private static async Task<List<Docker.DotNet.Models.Message>> EngineEventsAsync(Harness harness, DateTimeOffset since)
    {
        var events = new List<Docker.DotNet.Models.Message>();
        var until = DateTimeOffset.UtcNow.AddSeconds(1);
        await harness.Docker.System.MonitorEventsAsync(new Docker.DotNet.Models.ContainerEventsParameters
        {
            Since = since.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            Until = until.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, new SyncProgress<Docker.DotNet.Models.Message>(events.Add), Ct);
        return events;
    }

    private static async Task ExecuteAsync(Harness harness, string sql)
    {
        await using var connection = await harness.Store.Database.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }
}
