using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Discord.Testing.Rest;

namespace Dockhand.Tests.FrontDoor;

/// <summary>
/// The README's "Run Dockhand" steps, as a newcomer follows them, in a fresh `git clone` of this checkout's committed
/// HEAD: <c>cp env.example .env</c>, fill in a public key (and the test's port, scope label and network), then
/// <c>./scripts/run.sh</c> in the clone. Only committed files exist there, so a file outside the repository or one
/// that was never committed fails here as it would for a newcomer. The cost is the clone's own restore and release
/// build (npm ci included): about 80 s on 2 cores, 3.5 minutes at a load average of 30; the build-and-start limit is
/// 6 minutes, below scripts/test.sh's 8-minute hang detection.
/// </summary>
public sealed class ReadmeRunTests : IAsyncDisposable
{
    private static readonly TimeSpan BuildAndStartTimeout = TimeSpan.FromMinutes(6);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-frontdoor-").FullName;
    private readonly string _runId = "frontdoor-" + Guid.NewGuid().ToString("N")[..12];
    private Process? _dockhand;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunScript_FreshCloneWithEnvFromExample_ServesHealthOnListenUrlsAndStopsCleanlyOnSigterm()
    {
        var clone = Path.Combine(_directory, "repo");
        var source = RepositoryRoot();
        var head = (await RunAsync("git", ["-C", source, "rev-parse", "HEAD"], source)).Trim();
        await RunAsync("git", ["clone", "--quiet", "--no-hardlinks", source, clone], _directory);
        await RunAsync("git", ["-C", clone, "checkout", "--quiet", "--detach", head], clone);

        // README: cp env.example .env, then fill it in.
        File.Copy(Path.Combine(clone, "env.example"), Path.Combine(clone, ".env"));
        using var signer = new InteractionSigner();
        var port = FreeLoopbackPort();
        var listenUrl = $"http://127.0.0.1:{port}";
        FillIn(Path.Combine(clone, ".env"), new Dictionary<string, string>
        {
            ["DISCORD_PUBLIC_KEY"] = signer.PublicKeyHex,
            ["AUTHORIZED_USERS"] = "2000000000000000001",
            ["LISTEN_URLS"] = listenUrl,
            ["METRICS_URLS"] = $"http://127.0.0.1:{FreeLoopbackPort()}",
            ["CONTAINER_EXTRA_LABELS"] = "dockhand.test=" + _runId,
            ["CONTAINER_NETWORK"] = "none",
            ["DEFAULT_IMAGE"] = "dockhand-test/busybox:1",
        });

        var output = new StringBuilder();
        _dockhand = Start(Path.Combine(clone, "scripts", "run.sh"), [], clone, output);
        using var http = new HttpClient { BaseAddress = new Uri(listenUrl), Timeout = TimeSpan.FromSeconds(5) };
        var started = Stopwatch.StartNew();
        while (!await AnswersHealthyAsync(http))
        {
            Assert.False(_dockhand.HasExited, $"./scripts/run.sh ended (exit {(_dockhand.HasExited ? _dockhand.ExitCode : 0)}) before /health answered:\n{Tail(output)}");
            Assert.True(started.Elapsed < BuildAndStartTimeout, $"/health on {listenUrl} did not answer 200 within {BuildAndStartTimeout.TotalMinutes} minutes:\n{Tail(output)}");
            await Task.Delay(250, Ct);
        }
        TestContext.Current.SendDiagnosticMessage($"fresh clone: restore, build and start took {started.Elapsed.TotalSeconds:F0} s");

        // The public key came from the clone's .env: a PING signed with its private half is answered.
        using var ping = signer.CreateRequest(new Uri(http.BaseAddress!, "/interactions"), """{"type":1}""", DateTimeOffset.UtcNow);
        using var pong = await http.SendAsync(ping, Ct);
        Assert.Equal(HttpStatusCode.OK, pong.StatusCode);
        // The relative DATABASE_PATH (containers.db) resolved in the directory run.sh was started from: the clone's root.
        Assert.True(File.Exists(Path.Combine(clone, "containers.db")), "containers.db is not in the clone's root:\n" + Tail(output));
        Assert.False(File.Exists(Path.Combine(clone, "src", "Dockhand", "containers.db")));

        await RunAsync("kill", ["-TERM", _dockhand.Id.ToString(CultureInfo.InvariantCulture)], clone);
        using (var exited = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            exited.CancelAfter(StepTimeout);
            await _dockhand.WaitForExitAsync(exited.Token);
        }
        Assert.True(0 == _dockhand.ExitCode, $"exit code {_dockhand.ExitCode} after SIGTERM:\n{Tail(output)}");

        // doctor, run the same way from the root, names the .env it read.
        var doctor = await RunAsync("dotnet", [Path.Combine("src", "Dockhand", "bin", "Release", "net10.0", "dockhand.dll"), "doctor", "--json"], clone, allowFailure: true);
        var dotEnv = JsonDocument.Parse(doctor).RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "dotenv");
        Assert.Equal("read " + Path.Combine(clone, ".env"), dotEnv.GetProperty("detail").GetString());
    }

    /// <summary>Sets each key in a copied env.example: replaces its line (commented out or not), or appends it.</summary>
    private static void FillIn(string path, Dictionary<string, string> values)
    {
        var lines = File.ReadAllLines(path).ToList();
        foreach (var (key, value) in values)
        {
            var index = lines.FindIndex(l => l.StartsWith(key + "=", StringComparison.Ordinal) || l.StartsWith("#" + key + "=", StringComparison.Ordinal));
            if (index >= 0)
                lines[index] = $"{key}={value}";
            else
                lines.Add($"{key}={value}");
        }
        File.WriteAllLines(path, lines);
    }

    private static async Task<bool> AnswersHealthyAsync(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync("/health", Ct);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!Ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The checkout this test was built from: the first directory above the test binary with Dockhand.slnx and .git.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Dockhand.slnx")) && Path.Exists(Path.Combine(dir.FullName, ".git")))
                return dir.FullName;
        throw new InvalidOperationException("No git checkout with Dockhand.slnx above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// Starts a child with none of Dockhand's settings inherited from this process (so only the clone's .env counts) and
    /// no lingering MSBuild nodes; its output is collected as it comes, never read with a blocking call.
    /// </summary>
    private static Process Start(string fileName, string[] args, string workingDirectory, StringBuilder output, StringBuilder? stdout = null)
    {
        var info = new ProcessStartInfo(fileName, args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in info.Environment.Keys.ToList())
            if (key.StartsWith("DISCORD_", StringComparison.Ordinal) || key.StartsWith("CONTAINER_", StringComparison.Ordinal)
                || key.StartsWith("TERMINAL_", StringComparison.Ordinal)
                || key is "DATABASE_PATH" or "LISTEN_URLS" or "AUTHORIZED_USERS" or "DEFAULT_IMAGE" or "IMAGE_ALLOWLIST" or "ORPHAN_POLICY" or "TRUSTED_PROXIES" or "ASPNETCORE_URLS" or "METRICS_URLS" or "LOG_FORMAT")
                info.Environment.Remove(key);
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (output)
                output.AppendLine(e.Data);
            if (stdout is not null)
                lock (stdout)
                    stdout.AppendLine(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs a short command to its end (at most <see cref="StepTimeout"/>) and returns its stdout.</summary>
    private static async Task<string> RunAsync(string fileName, string[] args, string workingDirectory, bool allowFailure = false)
    {
        var output = new StringBuilder();
        var stdout = new StringBuilder();
        using var process = Start(fileName, args, workingDirectory, output, stdout);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(StepTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {StepTimeout.TotalSeconds} s:\n{Tail(output)}");
        }
        Assert.True(allowFailure || process.ExitCode == 0, $"{fileName} {string.Join(' ', args)} exited with {process.ExitCode}:\n{Tail(output)}");
        lock (stdout)
            return stdout.ToString();
    }

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            var text = output.ToString();
            return text.Length <= 4000 ? text : "…" + text[^4000..];
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dockhand is { HasExited: false })
        {
            _dockhand.Kill(entireProcessTree: true);
            await _dockhand.WaitForExitAsync(CancellationToken.None);
        }
        _dockhand?.Dispose();
        // Nothing should have been created; remove by this run's label anyway, never anything else.
        using var docker = new DockerClientBuilder().WithEndpoint(new Uri(Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock")).Build();
        using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var labelled = await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["dockhand.test=" + _runId] = true } },
        }, cleanup.Token);
        foreach (var container in labelled)
            await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, cleanup.Token);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A build server may still hold a file for a moment; the temporary directory is left for the OS to clear.
        }
    }
}
