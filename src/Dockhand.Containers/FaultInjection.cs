using System.Diagnostics;

namespace Dockhand.Containers;

/// <summary>
/// Test-only kill points. When the environment variable <c>DOCKHAND_FAULT_KILL_AT</c> names a step, the process
/// SIGKILLs itself on reaching it, so crash recovery can be tested for real. When <c>DOCKHAND_FAULT_HOLD_AT</c> names a
/// step, the operation stops there until the file <c>DOCKHAND_FAULT_HOLD_RELEASE</c> names exists, so a test can stop
/// the process (SIGTERM) in the middle of an operation at a known point and then let the operation go on during the
/// shutdown. Step names are in <see cref="Steps"/>.
/// </summary>
public static class FaultInjection
{
    public const string EnvironmentVariable = "DOCKHAND_FAULT_KILL_AT";
    public const string HoldEnvironmentVariable = "DOCKHAND_FAULT_HOLD_AT";
    public const string HoldReleaseEnvironmentVariable = "DOCKHAND_FAULT_HOLD_RELEASE";

    /// <summary>Printed to standard error when an operation reaches the hold step, followed by the step's name.</summary>
    public const string HoldingMessage = "fault-injection: holding at ";

    /// <summary>A hold whose release file never appears lets go after this long, so a forgotten setting cannot hang a process.</summary>
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(60);

    /// <summary>Every step a kill can be injected at, in the order create and destroy pass them.</summary>
    public static class Steps
    {
        /// <summary>The intent row ('creating') is committed; nothing exists in the engine yet.</summary>
        public const string CreateAfterIntent = "create:after-intent";
        /// <summary>The engine created the (labelled, stopped) container; the row still says 'pending'.</summary>
        public const string CreateAfterEngineCreate = "create:after-engine-create";
        /// <summary>The row holds the real container id but is still 'creating'; the engine's start may be under way.</summary>
        public const string CreateAfterRecordId = "create:after-record-id";
        /// <summary>The container is running; the row is still 'creating'.</summary>
        public const string CreateAfterStart = "create:after-start";
        /// <summary>The row is marked 'destroying'; the container still exists.</summary>
        public const string DestroyAfterMark = "destroy:after-mark";
        /// <summary>The container is removed from the engine; the row is still 'destroying'.</summary>
        public const string DestroyAfterEngineRemove = "destroy:after-engine-remove";

        public static IReadOnlyList<string> All { get; } =
            [CreateAfterIntent, CreateAfterEngineCreate, CreateAfterRecordId, CreateAfterStart, DestroyAfterMark, DestroyAfterEngineRemove];
    }

    private static readonly string? Target = Environment.GetEnvironmentVariable(EnvironmentVariable);
    private static readonly string? HoldTarget = Environment.GetEnvironmentVariable(HoldEnvironmentVariable);
    private static readonly string? HoldRelease = Environment.GetEnvironmentVariable(HoldReleaseEnvironmentVariable);

    /// <summary>
    /// Throws <see cref="InvalidSettingException"/> naming <see cref="EnvironmentVariable"/> or
    /// <see cref="HoldEnvironmentVariable"/> when it is set to something that is not a step, so a typo fails start-up
    /// instead of silently never killing or holding.
    /// </summary>
    public static void ThrowIfUnknownStep()
    {
        ThrowIfUnknownStep(Environment.GetEnvironmentVariable(EnvironmentVariable));
        ThrowIfUnknownStep(Environment.GetEnvironmentVariable(HoldEnvironmentVariable), HoldEnvironmentVariable);
    }

    internal static void ThrowIfUnknownStep(string? value, string key = EnvironmentVariable)
    {
        if (!string.IsNullOrEmpty(value) && !Steps.All.Contains(value, StringComparer.Ordinal))
            throw new InvalidSettingException(key, $"'{value}' is not a fault-injection step (test-only setting); use one of: {string.Join(", ", Steps.All)}.");
    }

    /// <summary>Kills the process with SIGKILL when <paramref name="step"/> is the configured kill point.</summary>
    public static void Point(string step)
    {
        if (Target is not null && string.Equals(Target, step, StringComparison.Ordinal))
        {
            Console.Error.Flush();
            Process.GetCurrentProcess().Kill();
        }
        if (HoldTarget is not null && string.Equals(HoldTarget, step, StringComparison.Ordinal))
            Hold(step);
    }

    /// <summary>
    /// Blocks the calling operation (a test-only path: a blocked thread is fine here) until the release file exists or
    /// <see cref="HoldLimit"/> passes. Not a signal handler of its own: the host's SIGTERM handling stays exactly as it is.
    /// </summary>
    private static void Hold(string step)
    {
        Console.Error.WriteLine(HoldingMessage + step);
        Console.Error.Flush();
        var held = Stopwatch.StartNew();
        while (held.Elapsed < HoldLimit && !(HoldRelease is { Length: > 0 } release && File.Exists(release)))
            Thread.Sleep(20);
    }
}
