using System.Text.Json;
using Dockhand.Cli;
using Dockhand.Containers;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Tests.Cli;

/// <summary>The operator CLI, in-process (fast) and, for the dead-engine case, as a real child process.</summary>
public sealed class CliTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Run(int ExitCode, string Out, string Err);

    private static async Task<Run> RunAsync(Harness harness, Dictionary<string, string?>? overrides, params string[] args)
    {
        var settings = harness.Settings();
        foreach (var (key, value) in overrides ?? [])
            settings[key] = value;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext(output, error, () => new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), isTerminal: false);
        var code = await CliApp.RunAsync(args, context, Ct);
        return new Run(code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task CreateListStatusDestroy_Json_RoundTripWithExitCodeZero()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner().ToString();
        var name = Harness.NewName("cli");

        var create = await RunAsync(harness, null, "create", "--user", owner, "--name", name, "--image", EngineFixture.TestImage, "--json");
        var list = await RunAsync(harness, null, "list", "--json");
        var status = await RunAsync(harness, null, "status", "--user", owner, "--json");
        var destroy = await RunAsync(harness, null, "destroy", "--user", owner, "--json");

        Assert.Equal(0, create.ExitCode);
        Assert.Equal("running", JsonDocument.Parse(create.Out).RootElement.GetProperty("state").GetString());
        Assert.Equal(0, list.ExitCode);
        var listed = Assert.Single(JsonDocument.Parse(list.Out).RootElement.GetProperty("containers").EnumerateArray());
        Assert.Equal(name, listed.GetProperty("name").GetString());
        Assert.Equal(owner, listed.GetProperty("owner").GetString());
        Assert.Equal(0, status.ExitCode);
        Assert.Equal(name, JsonDocument.Parse(status.Out).RootElement.GetProperty("name").GetString());
        Assert.Equal(0, destroy.ExitCode);
        Assert.True(JsonDocument.Parse(destroy.Out).RootElement.GetProperty("destroyed").GetBoolean());
        Assert.Empty(await harness.ScopedContainersAsync());
        Assert.Empty(create.Err + list.Err + status.Err + destroy.Err);
    }

    [Fact]
    public async Task Create_SecondForSameUser_ExitOneWithOneLine()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner().ToString();
        Assert.Equal(0, (await RunAsync(harness, null, "create", "--user", owner, "--name", Harness.NewName())).ExitCode);

        var second = await RunAsync(harness, null, "create", "--user", owner, "--name", Harness.NewName());
        var secondJson = await RunAsync(harness, null, "create", "--user", owner, "--name", Harness.NewName(), "--json");

        Assert.Equal(1, second.ExitCode);
        Assert.Single(second.Err.TrimEnd().Split('\n'));
        Assert.Contains("already has a container", second.Err, StringComparison.Ordinal);
        Assert.Equal(1, secondJson.ExitCode);
        Assert.Equal("already-has-container", JsonDocument.Parse(secondJson.Out).RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("ünïcode")]
    public async Task Create_BadName_ExitOneAndNothingCreated(string name)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, null, "create", "--user", Harness.NewOwner().ToString(), "--name", name);

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.Err.TrimEnd().Split('\n'));
        Assert.Empty(await harness.ScopedContainersAsync());
    }

    [Theory]
    [InlineData("status", "--user", "not-a-snowflake")]
    [InlineData("destroy", "--user", "12ab")]
    [InlineData("create", "--name", "x")]
    [InlineData("frobnicate")]
    [InlineData("status")]
    public async Task Verb_BadUsage_ExitTwoWithOneLine(params string[] args)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, null, args);

        Assert.Equal(2, run.ExitCode);
        Assert.Single(run.Err.TrimEnd().Split('\n'));
        Assert.StartsWith("dockhand: ", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Any_BadSetting_ExitTwoNamingTheKey()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, new() { ["CONTAINER_PIDS_LIMIT"] = "lots" }, "list");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("CONTAINER_PIDS_LIMIT", run.Err, StringComparison.Ordinal);
        Assert.Single(run.Err.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Doctor_HealthyEngine_ExitZeroAndJsonChecks()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, null, "doctor", "--json");

        Assert.Equal(0, run.ExitCode);
        var root = JsonDocument.Parse(run.Out).RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.Contains(root.GetProperty("checks").EnumerateArray(), c => c.GetProperty("name").GetString() == "engine" && c.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Doctor_DatabaseBehindLatestSchema_WarnsAndLeavesItUnmigrated()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        await ContainersSchemaAsync(harness, rollBackTo: 4);

        var run = await RunAsync(harness, null, "doctor", "--json");

        Assert.Equal(0, run.ExitCode);
        var checks = JsonDocument.Parse(run.Out).RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => (Ok: c.GetProperty("ok").GetBoolean(), Detail: c.GetProperty("detail").GetString()));
        Assert.False(checks["database"].Ok);
        Assert.Equal($"{harness.Options.DatabasePath}: schema version 4 is behind {Dockhand.Containers.Storage.DockhandDatabase.LatestVersion}; start Dockhand once to migrate (doctor does not migrate it)", checks["database"].Detail);
        Assert.Equal((true, "the container, web terminal, bot, Discord, LOG_FORMAT and METRICS_URLS settings are valid"), checks["configuration"]);
        Assert.Equal(4, await ContainersSchemaAsync(harness));
    }

    [Theory]
    [InlineData("AUTHORIZED_USERS", "alice")]
    [InlineData("TERMINAL_MAX_SESSIONS", "lots")]
    [InlineData("LOG_FORMAT", "xml")]
    public async Task Doctor_BadSettingOfAnotherModule_ExitTwoWithOneLineNamingIt(string key, string value)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, new() { [key] = value }, "doctor");

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"dockhand: configuration: {key}", Assert.Single(run.Err.TrimEnd().Split('\n')), StringComparison.Ordinal);
    }

    /// <summary>The containers module's schema version; with <paramref name="rollBackTo"/>, forgets the migrations after it first.</summary>
    private static async Task<long> ContainersSchemaAsync(Harness harness, int? rollBackTo = null)
    {
        await using var connection = await harness.Store.Database.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = (rollBackTo is { } version ? $"DELETE FROM schema_migrations WHERE module = 'containers' AND version > {version}; " : "")
            + "SELECT MAX(version) FROM schema_migrations WHERE module = 'containers';";
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task Help_ListsEveryVerbAndExitsZero()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, null, "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("create", run.Out, StringComparison.Ordinal);
        Assert.Contains("doctor", run.Out, StringComparison.Ordinal);
        Assert.Contains("terminal", run.Out, StringComparison.Ordinal);
        Assert.Contains("run", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_ImageThatDoesNotExist_JsonAndTextCarryEngineDetail()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var image = $"dockhand-test/does-not-exist-{Guid.NewGuid():N}:1";

        var json = await RunAsync(harness, null, "create", "--user", Harness.NewOwner().ToString(), "--name", Harness.NewName(), "--image", image, "--json");
        var text = await RunAsync(harness, null, "create", "--user", Harness.NewOwner().ToString(), "--name", Harness.NewName(), "--image", image);

        Assert.Equal(1, json.ExitCode);
        var root = JsonDocument.Parse(json.Out).RootElement;
        Assert.Equal("image-unavailable", root.GetProperty("error").GetString());
        Assert.Contains(image, root.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("detail").GetString()));
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("(engine: ", text.Err, StringComparison.Ordinal);
        Assert.Single(text.Err.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("list")]
    [InlineData("create", "--user", "123456789012345678", "--name", "dead")]
    [InlineData("doctor")]
    public async Task ChildProcess_DeadDockerHost_ExitTwoWithOneLineAndNoStackTrace(params string[] args)
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await DockhandChild.RunAsync(harness.Directory, new Dictionary<string, string?>
        {
            ["DOCKER_HOST"] = "unix:///tmp/dockhand-dead-engine.sock",
            ["DATABASE_PATH"] = harness.Options.DatabasePath,
        }, args, cancellationToken: Ct);

        Assert.Equal(2, run.ExitCode);
        var text = run.Stderr + run.Stdout;
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.Contains("dockhand-dead-engine.sock", text, StringComparison.Ordinal);
        if (args[0] != "doctor")
            Assert.Single(run.Stderr.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("destroy", "--user", "999")]
    [InlineData("status", "--user", "999")]
    [InlineData("start", "--user", "999")]
    [InlineData("stop", "--user", "999")]
    [InlineData("restart", "--user", "999")]
    [InlineData("list")]
    [InlineData("reconcile")]
    public async Task Verb_NoDatabaseFile_SaysNoDatabaseAtPathAndCreatesNothing(params string[] args)
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var missing = Path.Combine(harness.Directory, "elsewhere", "containers.db");

        var run = await RunAsync(harness, new() { ["DATABASE_PATH"] = missing }, args);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"dockhand: no database at {missing}; run dockhand from the directory that holds it, or set DATABASE_PATH", run.Err.Trim());
        Assert.False(File.Exists(missing));
    }

    [Fact]
    public async Task Create_NoDatabaseFile_SaysItCreatedOneAndCountsOtherInstances()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        Assert.Equal(0, (await RunAsync(harness, null, "create", "--user", Harness.NewOwner().ToString(), "--name", Harness.NewName())).ExitCode);
        var fresh = Path.Combine(harness.Directory, "fresh", "containers.db");

        var run = await RunAsync(harness, new() { ["DATABASE_PATH"] = fresh }, "create", "--user", Harness.NewOwner().ToString(), "--name", Harness.NewName());

        Assert.Equal(0, run.ExitCode);
        Assert.Matches($"^dockhand: created a new database at {System.Text.RegularExpressions.Regex.Escape(fresh)} \\(instance [0-9a-f]{{16}}\\); the engine holds 1 Dockhand container\\(s\\) of other instances, which it leaves untouched$", run.Err.Trim());
        Assert.Equal(2, (await harness.ScopedContainersAsync()).Count(c => c.State == "running"));
    }

    [Fact]
    public async Task Destroy_WithPurge_DeletesTheHomeAndSaysSo()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var owner = Harness.NewOwner().ToString();
        Assert.Equal(0, (await RunAsync(harness, null, "create", "--user", owner, "--name", Harness.NewName())).ExitCode);

        var kept = await RunAsync(harness, null, "destroy", "--user", owner);
        var list = await RunAsync(harness, null, "list", "--json");
        var purged = await RunAsync(harness, null, "destroy", "--user", owner, "--purge", "--json");

        Assert.EndsWith("; home volume kept (create brings it back; destroy --purge deletes it)", kept.Out.Trim());
        var listed = JsonDocument.Parse(list.Out).RootElement;
        Assert.Equal(harness.InstanceId, listed.GetProperty("instance").GetString());
        Assert.Equal(owner, Assert.Single(listed.GetProperty("keptHomes").EnumerateArray()).GetProperty("owner").GetString());
        Assert.Equal("purged", JsonDocument.Parse(purged.Out).RootElement.GetProperty("home").GetString());
        Assert.Empty(await harness.ScopedVolumesAsync());
    }

    [Fact]
    public async Task Doctor_ExistingDatabase_ShowsInstanceAndForeignCount()
    {
        await using var harness = await Harness.CreateAsync(fixture);

        var run = await RunAsync(harness, null, "doctor", "--json");

        var checks = JsonDocument.Parse(run.Out).RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("detail").GetString()!);
        Assert.StartsWith(harness.InstanceId, checks["instance"]);
        Assert.Matches("^[0-9]+ Dockhand container\\(s\\) of other instances on this engine; never touched$", checks["foreign"]);
        Assert.Contains(harness.Options.DatabasePath, checks["database"]);
    }

    [Fact]
    public async Task Backup_WhileCreatesRun_CopyHoldsAConsistentSnapshotWithTheSameInstance()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName("before")), cancellationToken: Ct));
        var target = Path.Combine(harness.Directory, "backups", "copy.db");
        var creates = Task.WhenAll(Enumerable.Range(0, 3).Select(_ => harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName("during")), cancellationToken: Ct)));

        var backup = await RunAsync(harness, null, "backup", "--to", target, "--json");
        await creates;
        var again = await RunAsync(harness, null, "backup", "--to", target);

        Assert.Equal(0, backup.ExitCode);
        var summary = JsonDocument.Parse(backup.Out).RootElement;
        Assert.Equal(harness.InstanceId, summary.GetProperty("instance").GetString());
        Assert.InRange(summary.GetProperty("containers").GetInt64(), 1, 4);
        await using (var copy = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={target};Mode=ReadOnly;Pooling=False"))
        {
            await copy.OpenAsync(Ct);
            await using var command = copy.CreateCommand();
            command.CommandText = "SELECT (SELECT COUNT(*) FROM containers WHERE state = 'ready') || '|' || (SELECT id FROM dockhand_instance) || '|' || (SELECT integrity_check FROM pragma_integrity_check)";
            var parts = ((string)(await command.ExecuteScalarAsync(Ct))!).Split('|');
            Assert.True(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) >= 1);
            Assert.Equal((harness.InstanceId, "ok"), (parts[1], parts[2]));
        }
        Assert.Equal(2, again.ExitCode);
        Assert.Equal($"dockhand: --to: {target} already exists; name a new file, so no backup is ever overwritten", again.Err.Trim());
    }
}
