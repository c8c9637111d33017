using System.Reflection;
using Dockhand.Containers;

namespace Dockhand.Terminal.Tests;

/// <summary>
/// Which sentence a page gets when the shell's output ends. The engine's answers are scripted here, because the order
/// that matters (the shell refused while the container is being removed, before the container shows it) is a race on a
/// real engine: it happened in CI as "The shell exited (code 126)" for a container that was being removed.
/// </summary>
public sealed class TerminalEndReasonsTests
{
    private const string ContainerId = "c0ffee";

    [Fact]
    public async Task AfterOutputEndedAsync_ShellNeverStartedWhileItsContainerIsRemoved_SaysTheContainerWasRemoved()
    {
        var runtime = ScriptedRuntime.Create(ContainerPresence.Running, ContainerPresence.Running, ContainerPresence.Gone);
        await using var shell = ScriptedShell.Create(new ShellState(Running: false, ExitCode: 126, Started: false));

        var reason = await TerminalEndReasons.AfterOutputEndedAsync(runtime, ContainerId, shell, TimeProvider.System);

        Assert.Equal(TerminalEndReasons.ContainerEnded(ContainerPresence.Gone), reason);
    }

    [Fact]
    public async Task AfterOutputEndedAsync_ShellNeverStartedInARunningContainer_SaysNoShellCouldBeStarted()
    {
        var runtime = ScriptedRuntime.Create(ContainerPresence.Running);
        await using var shell = ScriptedShell.Create(new ShellState(Running: false, ExitCode: 126, Started: false));

        var reason = await TerminalEndReasons.AfterOutputEndedAsync(runtime, ContainerId, shell, TimeProvider.System);

        Assert.Equal(TerminalEndReasons.ShellNotStarted, reason);
        Assert.True(((ScriptedRuntime)(object)runtime).Inspections > 1, "it answered without looking at the container again");
    }

    [Fact]
    public async Task AfterOutputEndedAsync_ShellExitedWithItsOwnCode_SaysSoWithoutLookingAgain()
    {
        var runtime = ScriptedRuntime.Create(ContainerPresence.Running);
        await using var shell = ScriptedShell.Create(new ShellState(Running: false, ExitCode: 126, Started: true));

        var reason = await TerminalEndReasons.AfterOutputEndedAsync(runtime, ContainerId, shell, TimeProvider.System);

        Assert.Equal(TerminalEndReasons.ShellExited(126), reason);
        Assert.Equal(1, ((ScriptedRuntime)(object)runtime).Inspections);
    }

    /// <summary>Answers container inspections in order (the last answer repeats); any other call is a test error.</summary>
    public class ScriptedRuntime : DispatchProxy
    {
        private ContainerPresence[] _answers = [];

        public int Inspections { get; private set; }

        public static IContainerRuntime Create(params ContainerPresence[] answers)
        {
            var runtime = Create<IContainerRuntime, ScriptedRuntime>();
            ((ScriptedRuntime)(object)runtime)._answers = answers;
            return runtime;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IContainerRuntime.InspectAsync))
                throw new NotSupportedException(targetMethod?.Name);
            var presence = _answers[Math.Min(Inspections++, _answers.Length - 1)];
            EngineContainer? container = presence switch
            {
                ContainerPresence.Gone => null,
                _ => new EngineContainer(ContainerId, "dev", presence == ContainerPresence.Running ? LiveState.Running : LiveState.Exited, null, new Dictionary<string, string>()),
            };
            return Task.FromResult(container);
        }
    }

    /// <summary>A shell whose exec-inspect always gives one answer; disposing it does nothing.</summary>
    public class ScriptedShell : DispatchProxy
    {
        private ShellState? _state;

        public static IShellProcess Create(ShellState state)
        {
            var shell = Create<IShellProcess, ScriptedShell>();
            ((ScriptedShell)(object)shell)._state = state;
            return shell;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            => targetMethod?.Name switch
            {
                nameof(IShellProcess.InspectAsync) => Task.FromResult(_state),
                nameof(IAsyncDisposable.DisposeAsync) => ValueTask.CompletedTask,
                _ => throw new NotSupportedException(targetMethod?.Name),
            };
    }
}
