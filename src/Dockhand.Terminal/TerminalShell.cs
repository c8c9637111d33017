using Dockhand.Containers;

namespace Dockhand.Terminal;

/// <summary>Which shell a terminal runs, and its environment. The marker that lets the runtime end it is the runtime's own.</summary>
internal static class TerminalShell
{
    public const string Bash = "/bin/bash";
    public const string Sh = "/bin/sh";

    private static readonly string[] Environment = ["TERM=xterm-256color", "COLORTERM=truecolor", "LANG=C.UTF-8"];

    /// <summary><c>/bin/bash</c> when the container has it, else <c>/bin/sh</c>.</summary>
    public static async Task<string> ChooseAsync(IContainerRuntime runtime, string containerId, CancellationToken cancellationToken)
        => await runtime.PathExistsAsync(containerId, Bash, cancellationToken) ? Bash : Sh;

    public static ShellSpec Spec(string shell) => new(shell, Environment);
}
