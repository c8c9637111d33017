using System.Diagnostics;
using System.Globalization;

namespace Dockhand.Resilience.Tests.Support;

/// <summary>
/// A private dockerd that a test may kill and restart. The shared engine on /var/run/docker.sock is never touched:
/// this one has its own socket, data root, exec root and pid file under /tmp, and runs in its own network namespace
/// (entered with nsenter, so the cgroup mounts stay visible), so nothing it does to bridges or iptables reaches the host.
/// The busybox test image is copied in with docker save | docker load. <see cref="DisposeAsync"/> removes every trace.
/// </summary>
public sealed class PrivateEngine : IAsyncDisposable
{
    /// <summary>Where the test image is copied from: the shared engine, whatever DOCKER_HOST says.</summary>
    private const string SharedEngine = "unix:///var/run/docker.sock";

    private Process? _daemon;

    private PrivateEngine(string directory, string networkNamespace)
    {
        Directory = directory;
        Namespace = networkNamespace;
    }

    public string Directory { get; }

    public string Namespace { get; }

    public string Socket => Path.Combine(Directory, "docker.sock");

    public string Endpoint => "unix://" + Socket;

    public bool IsRunning => _daemon is { HasExited: false };

    public static async Task<PrivateEngine> StartAsync(CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var engine = new PrivateEngine(System.IO.Directory.CreateDirectory($"/tmp/dockhand-resilience-engine-{id}").FullName, $"dockhand-rs-{id}");
        try
        {
            await RunAsync("ip", ["netns", "add", engine.Namespace], cancellationToken);
            await RunAsync("ip", ["netns", "exec", engine.Namespace, "ip", "link", "set", "lo", "up"], cancellationToken);
            await engine.StartDaemonAsync(cancellationToken);
            await RunAsync("bash", ["-c", $"DOCKER_HOST={SharedEngine} docker save {EngineFixture.TestImage} | DOCKER_HOST={engine.Endpoint} docker load -q"], cancellationToken);
            return engine;
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts dockerd and returns once <c>/_ping</c> answers (the moment the engine is back).</summary>
    public async Task<DateTimeOffset> StartDaemonAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("nsenter") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            $"--net=/var/run/netns/{Namespace}", "dockerd",
            "--host", Endpoint,
            "--data-root", Path.Combine(Directory, "data"),
            "--exec-root", Path.Combine(Directory, "exec"),
            "--pidfile", Path.Combine(Directory, "docker.pid"),
            "--iptables=false", "--ip-masq=false", "--storage-driver=vfs",
        })
            info.ArgumentList.Add(argument);
        _daemon = Process.Start(info) ?? throw new InvalidOperationException("dockerd did not start.");
        var log = Path.Combine(Directory, "dockerd.log");
        _ = CopyAsync(_daemon.StandardOutput, log);
        _ = CopyAsync(_daemon.StandardError, log);

        using var unixSocket = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Socket), ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        };
        using var ping = new HttpClient(unixSocket) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (_daemon.HasExited)
                throw new InvalidOperationException($"the private dockerd exited with {_daemon.ExitCode}: {Tail(log)}");
            try
            {
                using var response = await ping.GetAsync(new Uri("http://localhost/_ping"), cancellationToken);
                if (response.IsSuccessStatusCode)
                    return DateTimeOffset.UtcNow;
            }
            catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(50, cancellationToken);
        }
        throw new TimeoutException($"the private dockerd did not answer within 90 s; see {log}");
    }

    /// <summary>SIGKILLs dockerd and then the containerd it started, as a crash of the whole engine would.</summary>
    public async Task KillDaemonAsync()
    {
        if (_daemon is null || _daemon.HasExited)
            return;
        _daemon.Kill();
        await WaitForExitWithinAsync(_daemon, "dockerd");
        var containerdPid = Path.Combine(Directory, "exec", "containerd", "containerd.pid");
        if (File.Exists(containerdPid) && int.TryParse(File.ReadAllText(containerdPid).Trim(), CultureInfo.InvariantCulture, out var pid))
        {
            try
            {
                using var containerd = Process.GetProcessById(pid);
                if (containerd.ProcessName.StartsWith("containerd", StringComparison.Ordinal))
                {
                    containerd.Kill();
                    await WaitForExitWithinAsync(containerd, "containerd");
                }
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (IsRunning)
            {
                try
                {
                    await RunAsync("bash", ["-c", $"ids=$(DOCKER_HOST={Endpoint} docker ps -aq); [ -z \"$ids\" ] || DOCKER_HOST={Endpoint} docker rm -f $ids >/dev/null"], CancellationToken.None);
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException)
                {
                }
                await RunAsync("kill", ["-TERM", _daemon!.Id.ToString(CultureInfo.InvariantCulture)], CancellationToken.None);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                try
                {
                    await _daemon.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    await KillDaemonAsync();
                }
            }
            // containerd and shims started by this daemon (their command lines name our directory): end them by pid.
            foreach (var pid in ProcessesUnder(Directory))
            {
                try
                {
                    using var leftover = Process.GetProcessById(pid);
                    leftover.Kill();
                    await WaitForExitWithinAsync(leftover, leftover.ProcessName);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                }
            }
            foreach (var mount in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(Directory, StringComparison.Ordinal)).OrderByDescending(m => m.Length))
                await RunAsync("umount", ["-l", mount], CancellationToken.None, throwOnFailure: false);
        }
        finally
        {
            await RunAsync("ip", ["netns", "delete", Namespace], CancellationToken.None, throwOnFailure: false);
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            _daemon?.Dispose();
        }
    }

    private static string Tail(string path)
    {
        try
        {
            return string.Join(" | ", File.ReadLines(path).Where(l => l.Contains("level=error", StringComparison.Ordinal) || l.Contains("level=fatal", StringComparison.Ordinal) || !l.StartsWith("time=", StringComparison.Ordinal)).TakeLast(3));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private static IEnumerable<int> ProcessesUnder(string directory)
    {
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), CultureInfo.InvariantCulture, out var pid))
                continue;
            string commandLine;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (commandLine.Contains(directory, StringComparison.Ordinal))
                yield return pid;
        }
    }

    private static async Task CopyAsync(StreamReader reader, string path)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
                await File.AppendAllTextAsync(path, line + "\n");
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Waits for a SIGKILLed process to be gone; a process stuck in the kernel fails the test instead of hanging it.</summary>
    private static async Task WaitForExitWithinAsync(Process process, string name)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{name} (pid {process.Id}) was killed but had not exited after 20 s.");
        }
    }

    /// <summary>Runs a helper command (docker, kill, umount, ip) to its end, at most 60 s.</summary>
    private static async Task RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken, bool throwOnFailure = true)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start.");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        var error = process.StandardError.ReadToEndAsync(limit.Token);
        try
        {
            await process.StandardOutput.ReadToEndAsync(limit.Token);
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            if (throwOnFailure)
                throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not end within 60 s.");
            return;
        }
        if (process.ExitCode != 0 && throwOnFailure)
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} failed ({process.ExitCode}): {(await error).Trim()}");
    }
}
