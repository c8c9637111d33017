namespace Dockhand.Tests.Deployment;

/// <summary>deploy/systemd/dockhand.service, as systemd itself reads it.</summary>
[Collection(PublishedBinaryCollection.Name)]
public sealed class SystemdUnitTests(PublishedBinary published) : IDisposable
{
    internal static readonly string UnitPath = Path.Combine(PublishedBinary.RepositoryRoot, "deploy", "systemd", "dockhand.service");
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-systemd-").FullName;

    [Fact]
    public async Task Verify_UnitWithPublishedBinary_NoErrorAndNoWarning()
    {
        // verify checks that ExecStart's binary exists: point it at the one scripts/publish.sh just made.
        var text = File.ReadAllText(UnitPath);
        Assert.Contains("\nExecStart=/usr/local/bin/dockhand run\n", text, StringComparison.Ordinal);
        var copy = Path.Combine(_directory, "dockhand.service");
        File.WriteAllText(copy, text.Replace("\nExecStart=/usr/local/bin/dockhand run\n", $"\nExecStart={published.Executable} run\n", StringComparison.Ordinal));

        var verify = await Shell.RunAsync("systemd-analyze", ["verify", copy]);

        // Unknown keys and misplaced options are only warnings (exit 0): any line about our unit fails the test.
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.DoesNotContain("dockhand.service", verify.StandardOutput + verify.StandardError, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The settings of deploy/systemd/dockhand.service that keep the bot working inside its sandbox.</summary>
public sealed class SystemdUnitSettingsTests
{
    [Fact]
    public void Unit_Settings_DedicatedUserInDockerGroupWithStateDirectoryRestartAndHardening()
    {
        var settings = File.ReadAllLines(SystemdUnitTests.UnitPath)
            .Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith('['))
            .Select(l => l.Split('=', 2))
            .GroupBy(p => p[0], p => p[1])
            .ToDictionary(g => g.Key, g => g.Last());

        Assert.Equal("dockhand", settings["User"]);
        Assert.Equal("docker", settings["SupplementaryGroups"]);
        Assert.Equal("/etc/dockhand/dockhand.env", settings["EnvironmentFile"]);
        Assert.Equal("/var/lib/dockhand", settings["WorkingDirectory"]);
        Assert.Equal("dockhand", settings["StateDirectory"]);
        Assert.Equal("on-failure", settings["Restart"]);
        Assert.Equal("strict", settings["ProtectSystem"]);
        foreach (var on in new[] { "NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices", "ProtectKernelTunables", "ProtectControlGroups" })
            Assert.Equal("yes", settings[on]);
        // What would cut the bot off from the socket or from its own crash-safety check.
        Assert.Contains("AF_UNIX", settings["RestrictAddressFamilies"], StringComparison.Ordinal);
        Assert.False(settings.ContainsKey("ProtectProc"), "ProtectProc hides other users' processes from the /proc check of ProcessLease");
        Assert.False(settings.ContainsKey("PrivateNetwork"), "PrivateNetwork cuts Discord off");
        Assert.False(settings.ContainsKey("PrivateUsers"), "PrivateUsers maps the docker group away");
        Assert.DoesNotContain("docker.sock", settings.GetValueOrDefault("BindPaths", "") + settings.GetValueOrDefault("ReadWritePaths", ""), StringComparison.Ordinal);
    }
}
