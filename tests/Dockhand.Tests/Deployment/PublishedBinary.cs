using System.Diagnostics;
using System.Text;

namespace Dockhand.Tests.Deployment;

/// <summary>
/// One run of <c>scripts/publish.sh</c> into a temporary directory, shared by every test that needs the release binary
/// (the binary itself, the systemd unit, the Docker image). The script keeps its intermediate files in the projects'
/// obj/ folders, so on a checkout that has published before this is a copy; a fresh clone (CI) pays the native
/// compile once (7-10 minutes at a load average of 30-60 on 2 cores), unless scripts/publish.sh's cache already holds a
/// publish of the same committed sources.
/// </summary>
public sealed class PublishedBinary : IAsyncLifetime
{
    private static readonly TimeSpan PublishLimit = TimeSpan.FromMinutes(10);

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("dockhand-publish-").FullName;

    public string Executable => Path.Combine(Directory, "dockhand");

    public TimeSpan PublishTime { get; private set; }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public async ValueTask InitializeAsync()
    {
        var output = new StringBuilder();
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot, "scripts", "publish.sh"), [Directory])
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using (var limit = new CancellationTokenSource(PublishLimit))
        {
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"scripts/publish.sh did not finish within {PublishLimit.TotalMinutes} minutes:\n{output}");
            }
        }
        PublishTime = watch.Elapsed;
        if (process.ExitCode != 0 || !File.Exists(Executable))
            throw new InvalidOperationException($"scripts/publish.sh {Directory} exited with {process.ExitCode}:\n{output}");
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Dockhand.slnx")) && File.Exists(Path.Combine(dir.FullName, "scripts", "publish.sh")))
                return dir.FullName;
        throw new InvalidOperationException("No checkout with Dockhand.slnx and scripts/publish.sh above " + AppContext.BaseDirectory);
    }
}

/// <summary>The tests that share one published binary run one after another, after the one publish.</summary>
[CollectionDefinition(Name)]
public sealed class PublishedBinaryCollection : ICollectionFixture<PublishedBinary>
{
    public const string Name = "published binary";
}
