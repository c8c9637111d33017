using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Dockhand.Testing;

/// <summary>What one run of the <c>dockhand</c> executable did.</summary>
public sealed record ProcessOutcome(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>137 = 128 + SIGKILL: the process was killed (by its own kill point in the crash tests).</summary>
    public bool WasKilled => ExitCode is 137 or -9;

    public override string ToString() => $"exit {ExitCode}; stdout: {Stdout.Trim()}; stderr: {Stderr.Trim()}";
}

/// <summary>
/// A real dockhand process (the JIT build beside the tests under <c>dotnet exec</c>, or a published binary) in a working
/// directory of the test's choosing (so no stray .env is read), with only the given settings: none of Dockhand's
/// settings leak in from the test's own environment. <see cref="RunAsync"/> runs a command to its end;
/// <see cref="Start"/> keeps a long-running one (<c>run</c>) and collects its output as it comes. Every wait is bounded.
/// </summary>
public sealed class DockhandChild : IAsyncDisposable
{
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long the pipes may stay open after the process ended (something it started may still hold them).</summary>
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(10);

    private static readonly string[] DockhandPrefixes = ["DISCORD_", "CONTAINER_", "TERMINAL_", "Logging__", "DOCKHAND_FAULT_"];

    private static readonly string[] DockhandKeys =
    [
        "DATABASE_PATH", "DATABASE_URL", "LISTEN_URLS", "AUTHORIZED_USERS", "DEFAULT_IMAGE", "IMAGE_ALLOWLIST", "ORPHAN_POLICY",
        "TRUSTED_PROXIES", "ASPNETCORE_URLS", "METRICS_URLS", "LOG_FORMAT",
    ];

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentQueue<string> _stdout = new();

    private DockhandChild(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            _stdout.Enqueue(e.Data);
            _lines.Enqueue(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The test build's dockhand.dll, copied beside the tests by their reference to src/Dockhand.</summary>
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "dockhand.dll");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Everything printed so far, stdout and stderr in the order the lines arrived.</summary>
    public string Output => string.Join('\n', _lines);

    /// <summary>Standard output alone (complete once <see cref="WaitForExitAsync"/> has returned an exit code).</summary>
    public string StandardOutput => string.Join('\n', _stdout);

    public bool HasExited => _process.HasExited;

    public int Id => _process.Id;

    /// <summary>Starts dockhand (<paramref name="executable"/>, or the test build when null); the child owns the process.</summary>
    public static DockhandChild Start(string workingDirectory, IReadOnlyDictionary<string, string?> settings, string? executable, params string[] args)
        => new(StartProcess(workingDirectory, settings, executable, args));

    /// <summary>
    /// Runs the test build's dockhand to its end (at most <paramref name="timeout"/>, default <see cref="StepTimeout"/>;
    /// killed and a <see cref="TimeoutException"/> past it) and returns what it printed.
    /// </summary>
    public static async Task<ProcessOutcome> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string?> settings, IEnumerable<string> args,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var arguments = args.ToArray();
        var watch = Stopwatch.StartNew();
        using var process = StartProcess(workingDirectory, settings, executable: null, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? StepTimeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dockhand {string.Join(' ', arguments)} did not end within {(timeout ?? StepTimeout).TotalSeconds} s.");
        }
        // The pipes close when the process ends, unless something it started still holds them: bounded either way.
        return new ProcessOutcome(process.ExitCode, await stdout.WaitAsync(OutputGrace, cancellationToken), await stderr.WaitAsync(OutputGrace, cancellationToken), watch.Elapsed);
    }

    /// <summary>Waits (bounded) until <c>GET /health</c> on <paramref name="baseUrl"/> answers 200; returns how long that took from now.</summary>
    public async Task<TimeSpan> WaitHealthyAsync(Uri baseUrl, TimeSpan? limit = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"dockhand exited with {_process.ExitCode} before /health answered: {Output}");
            if (started.Elapsed > (limit ?? StepTimeout))
                throw new TimeoutException($"/health on {baseUrl} did not answer 200 within {(limit ?? StepTimeout).TotalSeconds} s: {Output}");
            try
            {
                using var response = await http.GetAsync(new Uri(baseUrl, "/health"), Ct);
                if (response.StatusCode == HttpStatusCode.OK)
                    return started.Elapsed;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!Ct.IsCancellationRequested)
            {
            }
            await Task.Delay(20, Ct); // a poll interval, not a wait for correctness
        }
    }

    /// <summary>Waits (bounded) until a line the process printed contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan? limit = null)
    {
        var started = Stopwatch.StartNew();
        while (!_lines.Any(line => line.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"dockhand exited with {_process.ExitCode} while waiting for '{text}': {Output}");
            if (started.Elapsed > (limit ?? StepTimeout))
                throw new TimeoutException($"dockhand did not print '{text}' within {(limit ?? StepTimeout).TotalSeconds} s: {Output}");
            await Task.Delay(50, Ct); // a poll interval, not a wait for correctness
        }
    }

    /// <summary>Sends SIGTERM, as a service manager does, and returns the exit code (bounded; killed and null when it hangs).</summary>
    public async Task<int?> TerminateAsync(TimeSpan? limit = null)
    {
        await SendSigtermAsync();
        return await WaitForExitAsync(limit);
    }

    public Task SendSigtermAsync() => SignalAsync("TERM");

    /// <summary>SIGSTOP: the process is frozen, as a host that stalls (swapping, a paused VM) would freeze it.</summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT after <see cref="FreezeAsync"/>.</summary>
    public Task ThawAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)])!;
            using var killLimit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await kill.WaitForExitAsync(killLimit.Token);
        }
    }

    /// <summary>SIGKILL, as a crash or the OOM killer would: no shutdown code runs. Returns once the process is gone.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await WaitForExitAsync();
    }

    /// <summary>The exit code (bounded by <paramref name="limit"/>, default <see cref="StepTimeout"/>; killed and null when it does not end).</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan? limit = null)
    {
        if (!_process.HasExited)
        {
            using var timeout = new CancellationTokenSource(limit ?? StepTimeout);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                return null;
            }
        }
        return _process.ExitCode;
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await TerminateAsync();
        _process.Dispose();
    }

    private static Process StartProcess(string workingDirectory, IReadOnlyDictionary<string, string?> settings, string? executable, string[] args)
    {
        if (executable is null && !File.Exists(DllPath))
            throw new FileNotFoundException("dockhand.dll is not beside the tests; build the test project (it references src/Dockhand).", DllPath);
        var start = new ProcessStartInfo(executable ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (executable is null)
        {
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(DllPath);
        }
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var key in start.Environment.Keys.ToList())
            if (DockhandPrefixes.Any(prefix => key.StartsWith(prefix, StringComparison.Ordinal)) || DockhandKeys.Contains(key, StringComparer.Ordinal))
                start.Environment.Remove(key);
        foreach (var (key, value) in settings)
        {
            if (value is null)
                start.Environment.Remove(key);
            else
                start.Environment[key] = value;
        }
        return Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
    }
}
