using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Dockhand.Tests.Deployment;

/// <summary>
/// A real dockhand process (the JIT build beside the tests, or a published binary) with only the given settings: none
/// of Dockhand's settings leak in from the test's own environment. Its output is collected as it comes.
/// </summary>
internal sealed class DockhandChild : IAsyncDisposable
{
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private DockhandChild(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public string Output => string.Join('\n', _lines);

    public bool HasExited => _process.HasExited;

    /// <summary>The test build's dockhand.dll under `dotnet exec` (how the tests run it), or <paramref name="executable"/>.</summary>
    public static DockhandChild Start(string workingDirectory, IReadOnlyDictionary<string, string?> settings, string? executable, params string[] args)
    {
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
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dockhand.dll"));
        }
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var key in start.Environment.Keys.ToList())
            if (key.StartsWith("DISCORD_", StringComparison.Ordinal) || key.StartsWith("CONTAINER_", StringComparison.Ordinal)
                || key.StartsWith("TERMINAL_", StringComparison.Ordinal) || key.StartsWith("Logging__", StringComparison.Ordinal)
                || key.StartsWith("DOCKHAND_FAULT_", StringComparison.Ordinal)
                || key is "DATABASE_PATH" or "LISTEN_URLS" or "AUTHORIZED_USERS" or "DEFAULT_IMAGE" or "IMAGE_ALLOWLIST" or "ORPHAN_POLICY"
                    or "TRUSTED_PROXIES" or "ASPNETCORE_URLS" or "METRICS_URLS" or "LOG_FORMAT")
                start.Environment.Remove(key);
        foreach (var (key, value) in settings)
        {
            if (value is null)
                start.Environment.Remove(key);
            else
                start.Environment[key] = value;
        }
        return new DockhandChild(Process.Start(start)!);
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
            await Task.Delay(20, Ct);
        }
    }

    /// <summary>Waits (bounded) until a line the process printed contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        var started = Stopwatch.StartNew();
        while (!_lines.Any(line => line.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"dockhand exited with {_process.ExitCode} while waiting for '{text}': {Output}");
            if (started.Elapsed > StepTimeout)
                throw new TimeoutException($"dockhand did not print '{text}' within {StepTimeout.TotalSeconds} s: {Output}");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>Sends SIGTERM, as a service manager does, and returns the exit code (bounded; killed and null when it hangs).</summary>
    public async Task<int?> TerminateAsync()
    {
        await SendSigtermAsync();
        return await WaitForExitAsync();
    }

    public async Task SendSigtermAsync()
    {
        if (!_process.HasExited)
        {
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!;
            await term.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>SIGKILL, as a crash or the OOM killer would: no shutdown code runs. Returns once the process is gone.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await WaitForExitAsync();
    }

    /// <summary>The exit code (bounded; killed and null when it does not end).</summary>
    public async Task<int?> WaitForExitAsync()
    {
        if (!_process.HasExited)
        {
            using var limit = new CancellationTokenSource(StepTimeout);
            try
            {
                await _process.WaitForExitAsync(limit.Token);
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
}
