using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class CreateVerb
{
    public static Command Build(CliContext context)
    {
        var user = CliContext.UserOption();
        var name = new Option<string>("--name", "-n") { Description = "Container name: letters, digits, '_', '.', '-' (at most 63).", Required = true };
        var image = new Option<string?>("--image", "-i") { Description = "Image to run; default DEFAULT_IMAGE. Pulled when missing." };
        var command = new Command("create", "Create a user's container (one per user).") { user, name, image };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            if (await context.ParseOwnerAsync(parse, user) is not { } owner)
                return ExitCodes.UsageOrUnavailable;
            await CliContext.ReconcileFirstAsync(services, ct);
            var bar = context.IsTerminal && !json ? new PullProgressBar(context.Output) : null;
            var result = await services.GetRequiredService<ContainerService>()
                .CreateAsync(new CreateRequest(owner, parse.GetValue(name) ?? "", parse.GetValue(image), Actor.Cli(Environment.UserName)), bar, cancellationToken: ct);
            bar?.Finish();
            switch (result)
            {
                case CreateResult.Created created:
                    if (json)
                        await context.WriteJsonAsync(CliContainer.From(created.Status), CliJsonContext.Default.CliContainer);
                    else
                        await context.Output.WriteLineAsync($"created {CliContext.Describe(created.Status)}" + (created.HomeRestored ? "; their kept home volume is mounted again" : ""));
                    return ExitCodes.Success;
                case CreateResult.Refused refused:
                    return await context.RefusedAsync(json, refused.Reason);
                default:
                    throw new InvalidOperationException("Unknown create result.");
            }
        }, cancellationToken, DatabaseUse.CreateIfMissing));
        return command;
    }
}
