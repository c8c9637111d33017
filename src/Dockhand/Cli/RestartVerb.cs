using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class RestartVerb
{
    public static Command Build(CliContext context)
    {
        var user = CliContext.UserOption();
        var command = new Command("restart", "Restart a user's container without destroying it.") { user };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            if (await context.ParseOwnerAsync(parse, user) is not { } owner)
                return ExitCodes.UsageOrUnavailable;
            var result = await services.GetRequiredService<ContainerService>().ApplyAsync(owner, LifecycleAction.Restart, Actor.Cli(Environment.UserName), ct);
            return await StatusVerb.WriteAsync(context, json, result);
        }, cancellationToken));
        return command;
    }
}
