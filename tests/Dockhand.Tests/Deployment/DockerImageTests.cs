using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Dockhand.Tests.Deployment;

/// <summary>
/// deploy/docker/Dockerfile built here from the published binary, on the local Debian test image (no registry can be
/// reached), and run with the engine's socket and its group: /health, the HEALTHCHECK, and the CLI through docker exec.
/// Everything carries dockhand.test=&lt;run id&gt; and is removed by it; the build's intermediate images are removed too.
/// </summary>
[Collection(PublishedBinaryCollection.Name)]
public sealed partial class DockerImageTests(PublishedBinary published) : IAsyncDisposable
{
    // Built by scripts/test-images.sh: a minimal Debian with libssl3 and ca-certificates, which the native binary needs.
    private const string TestImage = "dockhand-test/debian-runtime:bookworm";
    private readonly string _runId = "image-" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<string> _buildImages = [];

    private string Tag => "dockhand-test/bot:" + _runId;
    private string Label => "dockhand.test=" + _runId;

    private static Task<Shell.Result> DockerAsync(params string[] args) => Shell.RunAsync("docker", args, limit: TimeSpan.FromMinutes(3));

    [Fact]
    public async Task Build_FromPublishedBinary_RunsAsNonRootHealthyAndCreatesThroughExec()
    {
        var dockerfile = Path.Combine(PublishedBinary.RepositoryRoot, "deploy", "docker", "Dockerfile");
        // The legacy builder (dockerd 20.10 here); it prints each step's image, which the clean-up needs.
        var build = await Shell.RunAsync("docker",
            ["build", "--label", Label, "--tag", Tag, "--file", dockerfile,
             "--build-arg", "BUILD_IMAGE=" + TestImage, "--build-arg", "BASE_IMAGE=" + TestImage, "--build-arg", "CA_CERTIFICATES=skip", published.Directory],
            environment: new Dictionary<string, string> { ["DOCKER_BUILDKIT"] = "0" }, limit: TimeSpan.FromMinutes(3));
        _buildImages.AddRange(StepImage().Matches(build.StandardOutput).Select(m => m.Groups[1].Value));
        Assert.True(build.ExitCode == 0, build.ToString());

        var socketGroup = (await Shell.RunAsync("stat", ["-c", "%g", "/var/run/docker.sock"])).StandardOutput.Trim();
        Assert.Matches("^[0-9]+$", socketGroup);
        var name = "dockhand-test-bot-" + _runId;
        var run = await DockerAsync("run", "-d", "--name", name, "--label", Label, "--group-add", socketGroup,
            "-v", "/var/run/docker.sock:/var/run/docker.sock", "-p", "127.0.0.1::5000",
            "--health-interval", "1s", "--health-start-period", "0s",
            "-e", "DISCORD_PUBLIC_KEY=" + new string('b', 64), "-e", "DEFAULT_IMAGE=dockhand-test/busybox:1", "-e", "CONTAINER_NETWORK=none",
            "-e", "CONTAINER_VOLUME_PATH=", "-e", "CONTAINER_EXTRA_LABELS=" + Label, "-e", "METRICS_URLS=",
            Tag);
        Assert.True(run.ExitCode == 0, run.ToString());

        var port = (await DockerAsync("port", name, "5000/tcp")).StandardOutput.Split('\n')[0].Trim();
        Assert.StartsWith("127.0.0.1:", port, StringComparison.Ordinal);
        await WaitAsync(async () =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            try
            {
                using var response = await http.GetAsync(new Uri($"http://{port}/health"), TestContext.Current.CancellationToken);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, name);
        await WaitAsync(async () => (await DockerAsync("inspect", "-f", "{{.State.Health.Status}}", name)).StandardOutput.Trim() == "healthy", name);
        Assert.Equal("10001", (await DockerAsync("exec", name, "id", "-u")).StandardOutput.Trim());

        var owner = (3_000_000_000_000_000_000UL + (ulong)Random.Shared.Next(1, 1_000_000)).ToString(CultureInfo.InvariantCulture);
        var create = await DockerAsync("exec", name, "dockhand", "create", "--user", owner, "--name", "exec-" + owner, "--json");
        Assert.True(create.ExitCode == 0, create.ToString());
        var containerId = JsonDocument.Parse(create.StandardOutput).RootElement.GetProperty("containerId").GetString()!;
        Assert.Equal("true", (await DockerAsync("inspect", "-f", "{{.State.Running}}", containerId)).StandardOutput.Trim());
        var destroy = await DockerAsync("exec", name, "dockhand", "destroy", "--user", owner, "--json");
        Assert.True(destroy.ExitCode == 0, destroy.ToString());
        Assert.NotEqual(0, (await DockerAsync("inspect", containerId)).ExitCode);

        // docker stop sends SIGTERM to dockhand (PID 1 in the container): a clean exit.
        await DockerAsync("stop", "-t", "30", name);
        Assert.Equal("0", (await DockerAsync("inspect", "-f", "{{.State.ExitCode}}", name)).StandardOutput.Trim());
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string container)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("the bot's container did not get there within 60 s:\n" + await DockerAsync("logs", container));
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    [GeneratedRegex(@"^ ---> ([0-9a-f]{12})\s*$", RegexOptions.Multiline)]
    private static partial Regex StepImage();

    public async ValueTask DisposeAsync()
    {
        var labelled = await Shell.RunAsync("docker", ["ps", "-aq", "--filter", "label=" + Label]);
        foreach (var id in labelled.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            await Shell.RunAsync("docker", ["rm", "-f", "-v", id.Trim()]);
        await Shell.RunAsync("docker", ["rmi", Tag]);
        // The layout stage's images carry no tag and no label: remove those this build made, and only while untagged.
        foreach (var id in Enumerable.Reverse(_buildImages).Distinct())
        {
            var tags = await Shell.RunAsync("docker", ["image", "inspect", "-f", "{{len .RepoTags}}", id]);
            if (tags.ExitCode == 0 && tags.StandardOutput.Trim() == "0")
                await Shell.RunAsync("docker", ["rmi", id]);
        }
    }
}
