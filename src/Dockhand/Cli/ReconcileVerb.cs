using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class ReconcileVerb
{
    public static Command Build(CliContext context)
    {
        var command = new Command("reconcile", "Bring records and the engine in line once: finish interrupted operations, handle orphans (ORPHAN_POLICY).");
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            var report = await services.GetRequiredService<Reconciler>().ReconcileAsync(ct);
            if (json)
                await context.WriteJsonAsync(new CliReconcile(report.RolledBackCreates, report.FinishedDestroys, report.RemovedOrphans, report.AdoptedOrphans, report.MissingContainers), CliJsonContext.Default.CliReconcile);
            else
                await context.Output.WriteLineAsync($"reconciled: {report.RolledBackCreates} creates rolled back, {report.FinishedDestroys} destroys finished, {report.RemovedOrphans} orphans removed, {report.AdoptedOrphans} adopted, {report.MissingContainers} missing");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
