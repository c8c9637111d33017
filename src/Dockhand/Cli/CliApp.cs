using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Cli;

/// <summary>Exit codes (DESIGN §2).</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A rule said no (a refusal).</summary>
    public const int Refused = 1;
    /// <summary>A usage error, a bad setting, or an unreachable dependency (engine, database).</summary>
    public const int UsageOrUnavailable = 2;
}

/// <summary>The operator CLI: parses arguments and runs one verb.</summary>
internal static class CliApp
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
        => RunAsync(args, new CliContext(Console.Out, Console.Error, () => Configuration.DockhandConfiguration.Build(), isTerminal: !Console.IsOutputRedirected), cancellationToken);

    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var root = BuildRootCommand(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            await context.Error.WriteLineAsync($"dockhand: {parse.Errors[0].Message} (see dockhand --help)");
            return ExitCodes.UsageOrUnavailable;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = context.Output, Error = context.Error, EnableDefaultExceptionHandler = false }, cancellationToken);
    }

    /// <summary>
    /// THE place where verbs are registered: one file per verb under Cli/, each with a static <c>Build(CliContext)</c>
    /// (start, stop and restart share <see cref="LifecycleVerb"/>).
    /// </summary>
    public static RootCommand BuildRootCommand(CliContext context)
    {
        var root = new RootCommand("Dockhand: one Docker container per Discord user. Settings come from the environment, .env and appsettings.json.");
        root.Options.Add(CliContext.JsonOption);
        root.Subcommands.Add(CreateVerb.Build(context));
        root.Subcommands.Add(DestroyVerb.Build(context));
        root.Subcommands.Add(ListVerb.Build(context));
        root.Subcommands.Add(StatusVerb.Build(context));
        root.Subcommands.Add(LifecycleVerb.Build(context, LifecycleAction.Start));
        root.Subcommands.Add(LifecycleVerb.Build(context, LifecycleAction.Stop));
        root.Subcommands.Add(LifecycleVerb.Build(context, LifecycleAction.Restart));
        root.Subcommands.Add(DoctorVerb.Build(context));
        root.Subcommands.Add(ReconcileVerb.Build(context));
        root.Subcommands.Add(BackupVerb.Build(context));
        root.Subcommands.Add(MigrateStoreVerb.Build(context));
        root.Subcommands.Add(TerminalVerb.Build(context));
        root.Subcommands.Add(RunVerb.Build(context));
        root.Subcommands.Add(HealthVerb.Build(context));
        // No verb: run the bot and the web terminal.
        root.SetAction((parse, cancellationToken) => RunVerb.RunAsync(context, parse.GetValue(CliContext.JsonOption), cancellationToken));
        return root;
    }
}
