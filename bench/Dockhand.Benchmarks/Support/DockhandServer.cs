using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Dockhand.Benchmarks.Support;

/// <summary>
/// A real <c>dockhand run</c> process (the dockhand.dll built next to the benchmark), on a free 127.0.0.1 port, with
/// its own database. Stopped with SIGTERM; its resident set size is read from /proc.
/// </summary>
internal sealed class DockhandServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _log;
    private readonly List<(TimeSpan At, string Line)> _lines = [];

    private DockhandServer(Process process, Uri baseAddress, string log)
    {
        _process = process;
        BaseAddress = baseAddress;
        _log = log;
    }

    /// <summary>When (on <see cref="Started"/>'s clock) the process printed "dockhand: running on": host built, database migrated, Kestrel listening.</summary>
    public TimeSpan? ListeningAt { get; private set; }

    private Stopwatch Started { get; } = Stopwatch.StartNew();

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>The JIT build's dockhand.dll: the one built beside the benchmark, or another build (--dockhand DIR, e.g. a ReadyToRun publish).</summary>
    public static string JitBuild { get; set; } = Path.Combine(AppContext.BaseDirectory, "dockhand.dll");

    /// <summary>What every figure runs as its server: the release binary when one is given (<c>--native DIR</c>: what
    /// ships), otherwise the JIT build. P6 starts both.</summary>
    public static string Executable => NativeExecutable ?? JitBuild;

    /// <summary>The command line that runs <paramref name="executable"/> (a dockhand.dll through <c>dotnet</c>, or a native binary) with <paramref name="arguments"/>.</summary>
    public static (string File, string[] Arguments) Command(string executable, params string[] arguments)
        => executable.EndsWith(".dll", StringComparison.Ordinal) ? ("dotnet", [executable, .. arguments]) : (executable, arguments);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The native release binary (<c>--native DIR</c>: DIR/dockhand from scripts/publish.sh), the server of every figure (P6 starts the JIT build beside it); null without the option.</summary>
    public static string? NativeExecutable { get; set; }

    /// <summary>Further native binaries (<c>--native DIR,DIR2,…</c>: publishes with other settings) that P6 starts in turn with <see cref="NativeExecutable"/>, for a side-by-side comparison.</summary>
    public static IReadOnlyList<string> CandidateNativeExecutables { get; set; } = [];

    /// <summary>Starts the process and returns at once (the caller waits for /health). <paramref name="executable"/>: a
    /// dockhand.dll (run with <c>dotnet</c>) or a native executable; <see cref="Executable"/> when null.</summary>
    public static DockhandServer Start(string workingDirectory, IDictionary<string, string> environment, string? executable = null)
    {
        var port = FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var (file, arguments) = Command(executable ?? Executable, "run");
        var info = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        info.Environment["LISTEN_URLS"] = baseAddress.ToString().TrimEnd('/');
        info.Environment["METRICS_URLS"] = "";
        info.Environment["TERMINAL_SERVICE_URL"] = baseAddress.ToString().TrimEnd('/');
        // P4 opens 50 sessions per owner (200 over 4 containers); the default cap of 3 per owner would end most of them.
        info.Environment["TERMINAL_MAX_SESSIONS"] = "100";
        // A benchmark's socket never comes back, so its shell need not wait to be reattached: with the default 10 s, P4's
        // next set-up (seconds later on a fast server) found the last one's 50 sessions per owner still held, and was refused.
        info.Environment["TERMINAL_REATTACH_GRACE"] = "0s";
        var process = Process.Start(info) ?? throw new InvalidOperationException("dockhand did not start");
        var log = Path.Combine(workingDirectory, $"dockhand-{process.Id}.log");
        var server = new DockhandServer(process, baseAddress, log);
        _ = PumpAsync(process.StandardOutput, log, server);
        _ = PumpAsync(process.StandardError, log, server);
        return server;
    }

    /// <summary>Polls GET /health every 5 ms until it answers 200; returns the time that took from <paramref name="since"/>.</summary>
    public async Task<TimeSpan> WaitReadyAsync(Stopwatch since, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (since.Elapsed < timeout)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"dockhand exited with {_process.ExitCode}; see {_log}");
            try
            {
                using var response = await http.GetAsync(new Uri(BaseAddress, "/health"), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                    return since.Elapsed;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(5, cancellationToken);
        }
        throw new TimeoutException($"dockhand's /health did not answer 200 within {timeout.TotalSeconds} s; see {_log}");
    }

    /// <summary>
    /// Waits until the process has printed a line containing <paramref name="text"/> (stdout or stderr); returns when,
    /// on the clock that started with the process.
    /// </summary>
    public async Task<TimeSpan> WaitForLineAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = Started.Elapsed + timeout;
        while (Started.Elapsed < deadline)
        {
            lock (_lines)
                foreach (var (at, line) in _lines)
                    if (line.Contains(text, StringComparison.Ordinal))
                        return at;
            if (_process.HasExited)
                throw new InvalidOperationException($"dockhand exited with {_process.ExitCode} before printing '{text}'; see {_log}");
            await Task.Delay(5, cancellationToken);
        }
        string[] last;
        lock (_lines)
            last = [.. _lines.TakeLast(5).Select(l => l.Line)];
        throw new TimeoutException($"dockhand did not print '{text}' within {timeout.TotalSeconds} s; its last lines: {string.Join(" | ", last)}");
    }

    /// <summary>The last <paramref name="count"/> lines the process printed that contain <paramref name="text"/>.</summary>
    public IReadOnlyList<string> LastLines(int count, string text = "")
    {
        lock (_lines)
            return [.. _lines.Where(l => l.Line.Contains(text, StringComparison.Ordinal)).TakeLast(count).Select(l => l.Line)];
    }

    /// <summary>VmRSS of the process in MiB.</summary>
    public double ResidentMiB() => ReadRssMiB(_process.Id);

    /// <summary>VmRSS split into anonymous (heaps, JIT code) and file-backed (mapped runtime and assemblies) MiB.</summary>
    public (double Anonymous, double File) ResidentBreakdownMiB()
    {
        double anonymous = double.NaN, file = double.NaN;
        foreach (var line in File.ReadLines($"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                anonymous = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                file = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        return (anonymous, file);
    }

    /// <summary>Proportional set size in MiB: shared pages divided among the processes that map them.</summary>
    public double ProportionalMiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/smaps_rollup"))
            if (line.StartsWith("Pss:", StringComparison.Ordinal))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }

    public static double ReadRssMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
        }
        _process.Dispose();
    }

    private static async Task PumpAsync(StreamReader reader, string path, DockhandServer? server)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                if (server is not null)
                {
                    if (server.ListeningAt is null && line.StartsWith("dockhand: running on", StringComparison.Ordinal))
                        server.ListeningAt = server.Started.Elapsed;
                    lock (server._lines)
                        if (server._lines.Count < 100_000)
                            server._lines.Add((server.Started.Elapsed, line));
                }
                await File.AppendAllTextAsync(path, line + "\n");
            }
        }
        catch (IOException)
        {
        }
    }
}
