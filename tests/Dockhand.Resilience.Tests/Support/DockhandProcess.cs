namespace Dockhand.Resilience.Tests.Support;

/// <summary>
/// One test's dockhand: the real executable run as a child process (<see cref="DockhandChild"/>) in its own working
/// directory, with its own settings. Nothing is shared with the test process but the files and the engine.
/// </summary>
public sealed class DockhandProcess(string workingDirectory, IReadOnlyDictionary<string, string?> settings)
{
    public string WorkingDirectory { get; } = workingDirectory;

    /// <summary>Runs to the end (at most <paramref name="timeout"/>, default 60 s) with <paramref name="extra"/> on top of this test's settings.</summary>
    public Task<ProcessOutcome> RunAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? extra = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var all = new Dictionary<string, string?>(settings, StringComparer.Ordinal);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
            all[key] = value;
        return DockhandChild.RunAsync(WorkingDirectory, all, arguments, timeout, cancellationToken);
    }
}
