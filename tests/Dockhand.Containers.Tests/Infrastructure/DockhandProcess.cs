using System.Diagnostics;

namespace Dockhand.Containers.Tests.Infrastructure;

/// <summary>Runs the real <c>dockhand</c> executable as a child process.</summary>
public static class DockhandProcess
{
    public sealed record Outcome(int ExitCode, string StandardOutput, string StandardError);

    private static string DllPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "dockhand.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("dockhand.dll is not beside the tests; build tests/Dockhand.Containers.Tests.", path);
        }
    }

    public static async Task<Outcome> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        using var process = Start(workingDirectory, environment, args);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dockhand {string.Join(' ', args)} did not end within 60 s.");
        }
        // The pipes close when the process ends, unless something it started still holds them: bounded either way.
        var outputGrace = TimeSpan.FromSeconds(10);
        return new Outcome(process.ExitCode, await stdout.WaitAsync(outputGrace), await stderr.WaitAsync(outputGrace));
    }

    /// <summary>Starts the executable with only the given Dockhand settings; the caller owns the process and its output.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(DllPath);
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var key in new[] { "DATABASE_PATH", "DEFAULT_IMAGE", "CONTAINER_EXTRA_LABELS", "IMAGE_ALLOWLIST", "ORPHAN_POLICY", "CONTAINER_NETWORK", "CONTAINER_VOLUME_PATH", "CONTAINER_DISK_LIMIT", "CONTAINER_CAP_ADD", "DISCORD_TOKEN", "DISCORD_PUBLIC_KEY", "LISTEN_URLS", "METRICS_URLS", "LOG_FORMAT", FaultInjection.EnvironmentVariable })
            start.Environment.Remove(key);
        foreach (var (key, value) in environment)
        {
            if (value is null)
                start.Environment.Remove(key);
            else
                start.Environment[key] = value;
        }
        return Process.Start(start)!;
    }
}
