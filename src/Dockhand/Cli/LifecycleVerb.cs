using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

/// <summary><c>dockhand start|stop|restart --user ID</c>: one verb per <see cref="LifecycleAction"/>, answered like <c>status</c>.</summary>
internal static class LifecycleVerb
{
    public static Command Build(CliContext context, LifecycleAction action)
    {
        var user = CliContext.UserOption();
        var command = new Command(action.ToString().ToLowerInvariant(), $"{action} a user's container without destroying it.") { user };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            if (await context.ParseOwnerAsync(parse, user) is not { } owner)
                return ExitCodes.UsageOrUnavailable;
            var result = await services.GetRequiredService<ContainerService>().ApplyAsync(owner, action, Actor.Cli(Environment.UserName), ct);
            return await StatusVerb.WriteAsync(context, json, result);
        }, cancellationToken));
        return command;
    }
}
