using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class DestroyVerb
{
    public static Command Build(CliContext context)
    {
        var user = CliContext.UserOption();
        var purge = new Option<bool>("--purge") { Description = "Also delete the user's home volume and every file in it (kept by default)." };
        var command = new Command("destroy", "Remove a user's container and its record (succeeds when already gone); their home volume is kept unless --purge.") { user, purge };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            if (await context.ParseOwnerAsync(parse, user) is not { } owner)
                return ExitCodes.UsageOrUnavailable;
            await CliContext.ReconcileFirstAsync(services, ct);
            switch (await services.GetRequiredService<ContainerService>().DestroyAsync(owner, Actor.Cli(Environment.UserName), parse.GetValue(purge), ct))
            {
                case DestroyResult.Destroyed destroyed:
                    var home = destroyed.Home.ToString().ToLowerInvariant();
                    if (json)
                        await context.WriteJsonAsync(new CliDestroyed(destroyed.Record is not null, owner.ToString(), destroyed.Record?.Name, destroyed.Record?.ContainerId, home), CliJsonContext.Default.CliDestroyed);
                    else
                        await context.Output.WriteLineAsync((destroyed.Record is { } record ? $"destroyed {record.Name} (owner {owner})" : $"owner {owner} had no container; nothing to destroy") + destroyed.Home switch
                        {
                            HomeOutcome.Kept => "; home volume kept (create brings it back; destroy --purge deletes it)",
                            HomeOutcome.Purged => "; home volume and its files deleted",
                            _ => "",
                        });
                    return ExitCodes.Success;
                case DestroyResult.Refused refused:
                    return await context.RefusedAsync(json, refused.Reason);
                default:
                    throw new InvalidOperationException("Unknown destroy result.");
            }
        }, cancellationToken));
        return command;
    }
}
