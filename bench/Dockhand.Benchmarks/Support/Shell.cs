using System.Diagnostics;

namespace Dockhand.Benchmarks.Support;

/// <summary>Runs a program to the end and returns its exit code, output and wall time.</summary>
internal static class Shell
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, long StdoutBytes);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null,
        bool countOnly = false, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            info.Environment[key] = value;
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        string stdout;
        long bytes = 0;
        if (countOnly)
        {
            var buffer = new byte[256 * 1024];
            var stream = process.StandardOutput.BaseStream;
            int n;
            while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
                bytes += n;
            stdout = "";
        }
        else
        {
            stdout = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            bytes = stdout.Length;
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        watch.Stop();
        return new Result(process.ExitCode, stdout, await stderr, watch.Elapsed, bytes);
    }
}
