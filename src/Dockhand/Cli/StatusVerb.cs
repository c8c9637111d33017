using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class StatusVerb
{
    public static Command Build(CliContext context)
    {
        var user = CliContext.UserOption();
        var command = new Command("status", "Show a user's container: state, start time, CPU and memory.") { user };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            if (await context.ParseOwnerAsync(parse, user) is not { } owner)
                return ExitCodes.UsageOrUnavailable;
            return await WriteAsync(context, json, await services.GetRequiredService<ContainerService>().StatusAsync(owner, ct));
        }, cancellationToken));
        return command;
    }

    /// <summary>Shared by status, start, stop and restart.</summary>
    public static async Task<int> WriteAsync(CliContext context, bool json, StatusResult result)
    {
        switch (result)
        {
            case StatusResult.Found found:
                if (json)
                    await context.WriteJsonAsync(CliContainer.From(found.Status), CliJsonContext.Default.CliContainer);
                else
                    await context.Output.WriteLineAsync(CliContext.Describe(found.Status));
                return ExitCodes.Success;
            case StatusResult.Refused refused:
                return await context.RefusedAsync(json, refused.Reason);
            default:
                throw new InvalidOperationException("Unknown status result.");
        }
    }
}
