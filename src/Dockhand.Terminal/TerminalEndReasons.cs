using Dockhand.Containers;

namespace Dockhand.Terminal;

/// <summary>
/// Why a terminal session ended: the one sentence its page shows (the <c>ended</c> message), each saying what to do next.
/// The engine is asked (through <see cref="IContainerRuntime"/>) only to tell "the shell exited" from "the container
/// stopped or was removed".
/// </summary>
internal static class TerminalEndReasons
{
    public const string NeverOpened = "The terminal page was never opened.";
    public const string PageClosed = "The terminal page was closed.";
    public const string OpenedElsewhere = "This terminal was opened in another tab.";
    public const string ShuttingDown = "Dockhand is shutting down. Run /terminal again once it is back.";
    public const string Failed = "The terminal failed unexpectedly. Run /terminal again.";
    public const string EngineLost = "The connection to the Docker engine was lost. Run /terminal again.";
    public const string StreamClosed = "The shell's output stream closed. Run /terminal again.";
    public const string EngineSilent = "The terminal could not be started: the Docker engine did not answer. Try /terminal again in a moment.";

    public static string Expired(TimeSpan timeToLive)
        => "This terminal's time is up: its link was valid for " + Describe(timeToLive) + ". Run /terminal again for a new link.";

    public static string Replaced(int max)
        => max == 1
            ? "This terminal was closed because you opened a newer one (one at a time); run /terminal again to get it back."
            : $"This terminal was closed because you opened a newer one (at most {max} at a time); run /terminal again to get it back.";

    public static string ContainerEnded(ContainerPresence presence) => presence switch
    {
        ContainerPresence.Gone => "The container was removed, so this terminal has ended.",
        _ => "The container stopped, so this terminal has ended. Start it again, then run /terminal.",
    };

    public static string ShellExited(long code) => $"The shell exited (code {code}). Run /terminal again for a new one.";

    public const string ShellNotStarted = "The engine could not start a shell in the container. Run /terminal again; if it keeps failing, the image may have no usable shell.";

    /// <summary>Why the shell could not be started.</summary>
    public static string StartFailed(Exception e) => e switch
    {
        ContainerNotRunningException notRunning => ContainerEnded(notRunning.Presence),
        EngineRefusedException { Kind: EngineRefusal.NotFound } => ContainerEnded(ContainerPresence.Gone),
        EngineRefusedException { Kind: EngineRefusal.Conflict } => ContainerEnded(ContainerPresence.Stopped),
        _ => EngineSilent,
    };

    /// <summary>
    /// Why the shell's output ended: the container stopped or went (looked at a few times, since a container being
    /// stopped or removed does not show it at once), the shell itself exited, or the engine never started it.
    /// </summary>
    public static async Task<string> AfterOutputEndedAsync(IContainerRuntime runtime, string containerId, IShellProcess? shell, TimeProvider time)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var presence = (await runtime.InspectAsync(containerId, timeout.Token)).Presence();
            // A container being removed is first seen stopped: look again briefly to tell "removed" from "stopped".
            for (var i = 0; i < 5 && presence == ContainerPresence.Stopped; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, timeout.Token);
                presence = (await runtime.InspectAsync(containerId, timeout.Token)).Presence();
            }
            if (presence != ContainerPresence.Running)
                return ContainerEnded(presence);
            if (shell is not null && await shell.InspectAsync(timeout.Token) is { Running: false, ExitCode: { } code } state)
            {
                // Killed by a signal (128+n), or never started because the engine gave up on it: often the container is
                // being stopped or removed and does not show it yet.
                var containerSuspect = code >= 128 || !state.Started;
                for (var i = 0; i < 10 && containerSuspect && presence == ContainerPresence.Running; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), time, timeout.Token);
                    presence = (await runtime.InspectAsync(containerId, timeout.Token)).Presence();
                }
                for (var i = 0; i < 5 && presence == ContainerPresence.Stopped; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), time, timeout.Token);
                    presence = (await runtime.InspectAsync(containerId, timeout.Token)).Presence();
                }
                return presence != ContainerPresence.Running ? ContainerEnded(presence) : state.Started ? ShellExited(code) : ShellNotStarted;
            }
        }
        catch (Exception e) when (e is EngineException or OperationCanceledException)
        {
            return EngineLost;
        }
        return StreamClosed;
    }

    internal static string Describe(TimeSpan span)
        => span.TotalHours >= 1 && span.TotalHours == Math.Floor(span.TotalHours) ? $"{span.TotalHours:0} h"
            : span.TotalMinutes >= 1 && span.TotalMinutes == Math.Floor(span.TotalMinutes) ? $"{span.TotalMinutes:0} min"
            : $"{span.TotalSeconds:0} s";
}

/// <summary>The container was not running when the session tried to start its shell.</summary>
internal sealed class ContainerNotRunningException(ContainerPresence presence) : Exception("container not running")
{
    public ContainerPresence Presence { get; } = presence;
}
