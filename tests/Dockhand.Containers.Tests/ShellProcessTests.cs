using Dockhand.Containers.Tests.Infrastructure;

namespace Dockhand.Containers.Tests;

/// <summary>What the runtime tells the web terminal about a shell once its output has ended.</summary>
public sealed class ShellProcessTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InspectAsync_ShellExitedWithACode_IsStartedWithThatCode()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var containerId = await CreateRunningAsync(harness);
        await using var shell = await harness.Engine.StartShellAsync(containerId, new ShellSpec("/bin/sh", []), Ct);

        await shell.WriteAsync("exit 3\n"u8.ToArray(), Ct);
        await ReadToEndAsync(shell);

        Assert.Equal(new ShellState(Running: false, ExitCode: 3, Started: true), await WaitEndedAsync(shell));
    }

    [Fact]
    public async Task InspectAsync_ShellTheEngineCouldNotStart_IsNotStartedWithCode126()
    {
        await using var harness = await Harness.CreateAsync(fixture);
        var containerId = await CreateRunningAsync(harness);
        await using var shell = await harness.Engine.StartShellAsync(containerId, new ShellSpec("/no/such/shell", []), Ct);

        await ReadToEndAsync(shell);

        Assert.Equal(new ShellState(Running: false, ExitCode: 126, Started: false), await WaitEndedAsync(shell));
    }

    private static async Task<string> CreateRunningAsync(Harness harness)
    {
        var created = Assert.IsType<CreateResult.Created>(await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), Harness.NewName()), cancellationToken: Ct));
        return created.Status.Record.ContainerId;
    }

    private static async Task ReadToEndAsync(IShellProcess shell)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        var buffer = new byte[4096];
        while (await shell.ReadAsync(buffer, limit.Token) > 0)
        {
        }
    }

    /// <summary>The output can end a moment before the engine has recorded the exit.</summary>
    private static async Task<ShellState?> WaitEndedAsync(IShellProcess shell)
    {
        ShellState? state = null;
        await Eventually.TrueAsync(async () => (state = await shell.InspectAsync(Ct)) is { Running: false }, "the engine to record the shell's exit", Ct);
        return state;
    }
}
