using System.Diagnostics;

namespace Dockhand.Resilience.Tests.Support;

/// <summary>What one run of the <c>dockhand</c> executable did.</summary>
public sealed record ProcessOutcome(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>137 = 128 + SIGKILL: the process was killed (by its own kill point here).</summary>
    public bool WasKilled => ExitCode is 137 or -9;

    public override string ToString() => $"exit {ExitCode}; stdout: {Stdout.Trim()}; stderr: {Stderr.Trim()}";
}

/// <summary>
/// Runs the real <c>dockhand</c> executable (built next to the tests) as a child process, in its own working directory so
/// no stray .env is read, with the settings given. Nothing is shared with the test process but the files and the engine.
/// </summary>
public sealed class DockhandProcess
{
    private readonly Dictionary<string, string?> _environment;

    public DockhandProcess(string workingDirectory, IReadOnlyDictionary<string, string?> environment)
    {
        WorkingDirectory = workingDirectory;
        _environment = new Dictionary<string, string?>(environment, StringComparer.Ordinal);
    }

    public string WorkingDirectory { get; }

    public static string ExecutablePath { get; } = Path.Combine(AppContext.BaseDirectory, "dockhand.dll");

    /// <summary>Starts the process; the caller owns it (kill it by its id when done).</summary>
    public Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? extra = null)
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath} is missing; build the test project first.");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ExecutablePath);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment.Remove("DOCKHAND_FAULT_KILL_AT");
        foreach (var (key, value) in _environment.Concat(extra ?? new Dictionary<string, string?>()))
        {
            if (value is null)
                info.Environment.Remove(key);
            else
                info.Environment[key] = value;
        }
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
    }

    /// <summary>Runs to the end (at most <paramref name="timeout"/>, default 60 s) and returns what it printed.</summary>
    public async Task<ProcessOutcome> RunAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? extra = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        using var process = Start(arguments, extra);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dockhand {string.Join(' ', arguments)} did not end in time.");
        }
        // The pipes close when the process ends, unless something it started still holds them: bounded either way.
        var outputGrace = TimeSpan.FromSeconds(10);
        return new ProcessOutcome(process.ExitCode, await stdout.WaitAsync(outputGrace, cancellationToken), await stderr.WaitAsync(outputGrace, cancellationToken), watch.Elapsed);
    }
}
