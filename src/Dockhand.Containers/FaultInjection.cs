using System.Diagnostics;

namespace Dockhand.Containers;

/// <summary>
/// Test-only kill points. When the environment variable <c>DOCKHAND_FAULT_KILL_AT</c> names a step, the process
/// SIGKILLs itself on reaching it, so crash recovery can be tested for real. Step names are in <see cref="Steps"/>.
/// </summary>
public static class FaultInjection
{
    public const string EnvironmentVariable = "DOCKHAND_FAULT_KILL_AT";

    /// <summary>Every step a kill can be injected at, in the order create and destroy pass them.</summary>
    public static class Steps
    {
        /// <summary>The intent row ('creating') is committed; nothing exists in the engine yet.</summary>
        public const string CreateAfterIntent = "create:after-intent";
        /// <summary>The engine created the (labelled, stopped) container; the row still says 'pending'.</summary>
        public const string CreateAfterEngineCreate = "create:after-engine-create";
        /// <summary>The row holds the real container id but is still 'creating'.</summary>
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

    /// <summary>
    /// Throws <see cref="InvalidSettingException"/> naming <see cref="EnvironmentVariable"/> when it is set to something
    /// that is not a step, so a typo fails start-up instead of silently never killing.
    /// </summary>
    public static void ThrowIfUnknownStep() => ThrowIfUnknownStep(Environment.GetEnvironmentVariable(EnvironmentVariable));

    internal static void ThrowIfUnknownStep(string? value)
    {
        if (!string.IsNullOrEmpty(value) && !Steps.All.Contains(value, StringComparer.Ordinal))
            throw new InvalidSettingException(EnvironmentVariable, $"'{value}' is not a kill step (test-only setting); use one of: {string.Join(", ", Steps.All)}.");
    }

    /// <summary>Kills the process with SIGKILL when <paramref name="step"/> is the configured kill point.</summary>
    public static void Point(string step)
    {
        if (Target is not null && string.Equals(Target, step, StringComparison.Ordinal))
        {
            Console.Error.Flush();
            Process.GetCurrentProcess().Kill();
        }
    }
}
