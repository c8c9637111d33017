using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class ListVerb
{
    public static Command Build(CliContext context)
    {
        var command = new Command("list", "List every recorded container with its live state.");
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            var service = services.GetRequiredService<ContainerService>();
            var all = new List<ContainerStatus>();
            var total = 0;
            for (var page = 0; ; page++)
            {
                var result = await service.ListAsync(page, 100, ct);
                all.AddRange(result.Items);
                total = result.Total;
                if (page + 1 >= result.PageCount)
                    break;
            }
            var homes = (await service.ListHomesAsync(cancellationToken: ct)).ToDictionary(h => h.Owner);
            all = [.. all.Select(s => s with { Home = homes.GetValueOrDefault(s.Record.Owner) })];
            var withContainer = all.Select(s => s.Record.Owner).ToHashSet();
            var kept = homes.Values.Where(h => !withContainer.Contains(h.Owner)).ToList();
            var instance = await services.GetRequiredService<ContainerStore>().GetInstanceIdAsync(ct);
            if (json)
            {
                await context.WriteJsonAsync(new CliContainerList(instance, all.Select(CliContainer.From).ToList(), total,
                    kept.Select(h => new CliHome(h.Owner.ToString(), h.Name)).ToList()), CliJsonContext.Default.CliContainerList);
                return ExitCodes.Success;
            }
            if (all.Count == 0)
                await context.Output.WriteLineAsync($"no containers (instance {instance})");
            else
            {
                await context.Output.WriteLineAsync($"{"OWNER",-20} {"NAME",-24} {"STATE",-10} {"IMAGE",-28} {"HOME",-5} CREATED");
                foreach (var s in all)
                    await context.Output.WriteLineAsync($"{s.Record.Owner,-20} {s.Record.Name,-24} {s.State.ToString().ToLowerInvariant(),-10} {s.Record.Image,-28} {(s.Home is null ? "-" : "yes"),-5} {s.Record.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm}Z");
            }
            foreach (var home in kept)
                await context.Output.WriteLineAsync($"kept home of owner {home.Owner} (no container): volume {home.Name}");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
