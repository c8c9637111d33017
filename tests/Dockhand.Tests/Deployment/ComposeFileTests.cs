using System.Text.RegularExpressions;

namespace Dockhand.Tests.Deployment;

/// <summary>
/// deploy/docker/compose.yaml as Debian's docker-compose (1.29, installed by scripts/test.sh) resolves it, with a .env
/// beside it as the README says: the bot, the socket, the data volume, the socket's group and every setting of .env.
/// </summary>
public sealed class ComposeFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-compose-").FullName;

    [Fact]
    public async Task Config_WithEnvBesideIt_BotGetsSocketDataVolumeGroupAndSettings()
    {
        // The layout the file expects: deploy/docker/compose.yaml, with the published binary in artifacts/publish.
        var docker = Directory.CreateDirectory(Path.Combine(_directory, "deploy", "docker")).FullName;
        Directory.CreateDirectory(Path.Combine(_directory, "artifacts", "publish"));
        File.Copy(Path.Combine(PublishedBinary.RepositoryRoot, "deploy", "docker", "compose.yaml"), Path.Combine(docker, "compose.yaml"));
        File.WriteAllLines(Path.Combine(docker, ".env"), ["DOCKER_GID=4242", "DISCORD_TOKEN=compose-test-token", "AUTHORIZED_USERS=2000000000000000001"]);

        var config = await Shell.RunAsync("docker-compose", ["-f", "compose.yaml", "config"], docker);

        Assert.True(config.ExitCode == 0, config.ToString());
        var text = config.StandardOutput;
        Assert.Contains("/var/run/docker.sock:/var/run/docker.sock", text, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"- dockhand-data:/data(:rw)?\s*$", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"group_add:\s*\n\s*- '?4242'?", RegexOptions.Multiline), text);
        Assert.Contains("DISCORD_TOKEN: compose-test-token", text, StringComparison.Ordinal);
        Assert.Contains("DATABASE_PATH: /data/containers.db", text, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:5000:5000", text, StringComparison.Ordinal);
        Assert.Contains("context: " + Path.Combine(_directory, "artifacts", "publish"), text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_WithoutDockerGid_RefusesNamingIt()
    {
        var docker = Directory.CreateDirectory(Path.Combine(_directory, "deploy", "docker")).FullName;
        Directory.CreateDirectory(Path.Combine(_directory, "artifacts", "publish"));
        File.Copy(Path.Combine(PublishedBinary.RepositoryRoot, "deploy", "docker", "compose.yaml"), Path.Combine(docker, "compose.yaml"));
        File.WriteAllLines(Path.Combine(docker, ".env"), ["DISCORD_TOKEN=compose-test-token"]);

        var config = await Shell.RunAsync("docker-compose", ["-f", "compose.yaml", "config"], docker,
            environment: new Dictionary<string, string> { ["DOCKER_GID"] = "" });

        Assert.NotEqual(0, config.ExitCode);
        Assert.Contains("set DOCKER_GID in .env", config.StandardError, StringComparison.Ordinal);
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
