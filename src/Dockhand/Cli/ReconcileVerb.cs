using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class ReconcileVerb
{
    public static Command Build(CliContext context)
    {
        var allowMassRemoval = new Option<bool>("--allow-mass-removal")
        {
            Description = $"Remove even when the pass would remove more than {Reconciler.MassRemovalLimit} containers (check DATABASE_PATH first).",
        };
        var command = new Command("reconcile", "Bring records and the engine in line once: finish interrupted operations, handle this instance's orphans (ORPHAN_POLICY).")
        {
            allowMassRemoval,
        };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            var reconciler = services.GetRequiredService<Reconciler>();
            var report = parse.GetValue(allowMassRemoval) ? await reconciler.ReconcileAllowingMassRemovalAsync(ct) : await reconciler.ReconcileAsync(ct);
            if (json)
            {
                await context.WriteJsonAsync(CliReconcile.From(report), CliJsonContext.Default.CliReconcile);
            }
            else
            {
                await context.Output.WriteLineAsync($"reconciled: {report.RolledBackCreates} creates rolled back, {report.FinishedDestroys} destroys finished, " +
                    $"{report.RemovedOrphans} orphans removed, {report.AdoptedOrphans} adopted, {report.StoppedOrphans} stopped and kept, {report.MissingContainers} missing, " +
                    $"{report.ForeignContainers} foreign (other instances', left alone)");
                if (report.HeldBackRemovals > 0)
                    await context.Output.WriteLineAsync($"held back: this pass would remove {report.HeldBackRemovals} containers, more than {Reconciler.MassRemovalLimit}, so it removed none; " +
                        "check DATABASE_PATH and the instance id (dockhand doctor), then run dockhand reconcile --allow-mass-removal if they are right");
            }
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
