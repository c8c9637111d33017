using System.Diagnostics;
using Dockhand.Resilience.Tests.Support;

namespace Dockhand.Resilience.Tests;

/// <summary>
/// The database on a tiny tmpfs: filled up, then remounted read-only. Writes must fail with a clear error (exit 2, a
/// message naming the database), reads keep working, nothing is left half-made in the engine, and the file stays sound
/// (PRAGMA integrity_check). Once space is back, the same request succeeds.
/// </summary>
[Trait("Category", "Resilience")]
public sealed class DiskFullTests(SharedEngineFixture fixture) : IClassFixture<SharedEngineFixture>
{
    [Fact]
    public async Task Create_DatabaseDiskFullThenReadOnly_ClearErrorNoCorruption()
    {
        var ct = TestContext.Current.CancellationToken;
        var mount = Directory.CreateTempSubdirectory("dockhand-resilience-disk-").FullName;
        await RunAsync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount], ct);
        try
        {
            await ScenarioAsync(mount, ct);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await RunAsync("umount", ["-l", mount], CancellationToken.None);
            Directory.Delete(mount, recursive: true);
        }
    }

    private async Task ScenarioAsync(string mount, CancellationToken ct)
    {
        var (dockhand, database, scope) = fixture.NewScope("disk", databaseDirectory: mount);
        var kept = SharedEngineFixture.NextUser();
        var blocked = SharedEngineFixture.NextUser();
        var created = await dockhand.RunAsync(["create", "--user", kept, "--name", $"d{kept}"], cancellationToken: ct);
        Assert.True(created.ExitCode == 0, $"create on a healthy disk failed: {created}");
        var before = await Records.ReadAsync(database, ct);
        // Fold the WAL into the file and empty it, so the next write must grow a file.
        await Records.ExecuteAsync(database, "PRAGMA wal_checkpoint(TRUNCATE)", ct);

        // Full disk.
        var filler = Path.Combine(mount, "filler");
        await FillAsync(filler, ct);
        var full = await dockhand.RunAsync(["create", "--user", blocked, "--name", $"d{blocked}"], cancellationToken: ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"disk full: {full}");
        Assert.Equal(2, full.ExitCode);
        Assert.Contains("database", full.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("DATABASE_PATH", full.Stderr, StringComparison.Ordinal);
        await AssertFailsCleanlyAsync(dockhand, scope, before, ct);
        File.Delete(filler);
        await AssertIntactAsync(dockhand, database, scope, before, ct);

        // Read-only file system.
        await RunAsync("mount", ["-o", "remount,ro", mount], ct);
        var readOnly = await dockhand.RunAsync(["create", "--user", blocked, "--name", $"d{blocked}"], cancellationToken: ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"read-only: {readOnly}");
        Assert.Equal(2, readOnly.ExitCode);
        Assert.Contains("database", readOnly.Stderr, StringComparison.OrdinalIgnoreCase);
        await AssertFailsCleanlyAsync(dockhand, scope, before, ct);
        await RunAsync("mount", ["-o", "remount,rw", mount], ct);
        await AssertIntactAsync(dockhand, database, scope, before, ct);

        // Space is back: the same request succeeds.
        var again = await dockhand.RunAsync(["create", "--user", blocked, "--name", $"d{blocked}"], cancellationToken: ct);
        Assert.True(again.ExitCode == 0, $"create after the disk recovered failed: {again}");
        Assert.Equal(2, (await Records.ReadAsync(database, ct)).Count);
        Assert.Equal("ok", await Records.IntegrityCheckAsync(database, ct));
    }

    /// <summary>
    /// While the fault lasts: no container was left behind by the refused create, and a read fails with the same clear
    /// error instead of a crash (a WAL database needs its -shm and -wal files even to read; the last process to close
    /// the file removed them, and they cannot be made again on a full or read-only file system).
    /// </summary>
    private async Task AssertFailsCleanlyAsync(DockhandProcess dockhand, string scope, IReadOnlyList<RecordRow> before, CancellationToken ct)
    {
        var containers = await fixture.Engine.ListAsync(new Dictionary<string, string> { ["dockhand.test"] = fixture.RunId, ["resilience.scope"] = scope }, ct);
        Assert.Equal(before.Select(r => r.ContainerId).Order(), containers.Select(c => c.ID).Order());
        var list = await dockhand.RunAsync(["list"], cancellationToken: ct);
        Assert.True(list.ExitCode is 0 or 2, $"list during the fault: {list}");
        if (list.ExitCode == 2)
            Assert.Contains("database", list.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The earlier record is unchanged, no container was left without a record, and integrity_check passes.</summary>
    private async Task AssertIntactAsync(DockhandProcess dockhand, string database, string scope, IReadOnlyList<RecordRow> before, CancellationToken ct)
    {
        Assert.Equal("ok", await Records.IntegrityCheckAsync(database, ct));
        Assert.Equal(before, await Records.ReadAsync(database, ct));
        var containers = await fixture.Engine.ListAsync(new Dictionary<string, string> { ["dockhand.test"] = fixture.RunId, ["resilience.scope"] = scope }, ct);
        Assert.Equal(before.Select(r => r.ContainerId).Order(), containers.Select(c => c.ID).Order());
        var list = await dockhand.RunAsync(["list", "--json"], cancellationToken: ct);
        Assert.True(list.ExitCode == 0, $"list (a read) failed: {list}");
        Assert.Contains(before[0].ContainerId, list.Stdout, StringComparison.Ordinal);
    }

    private static async Task FillAsync(string path, CancellationToken ct)
    {
        var block = new byte[64 * 1024];
        await using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        try
        {
            while (true)
                await stream.WriteAsync(block, ct);
        }
        catch (IOException)
        {
        }
        // Fill the last partial block too.
        try
        {
            while (true)
                await stream.WriteAsync(block.AsMemory(0, 512), ct);
        }
        catch (IOException)
        {
        }
    }

    private static async Task RunAsync(string file, IEnumerable<string> arguments, CancellationToken ct)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start.");
        var error = await process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} failed: {error.Trim()} (the resilience suite runs as root to mount a tmpfs)");
    }
}
