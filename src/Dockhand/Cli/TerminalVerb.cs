using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Dockhand.Terminal;
using Microsoft.Extensions.Options;

namespace Dockhand.Cli;

/// <summary><c>dockhand terminal --user ID</c>: prints a one-time link to the user's container terminal.</summary>
internal static class TerminalVerb
{
    public static Command Build(CliContext context)
    {
        var user = CliContext.UserOption();
        var command = new Command("terminal", "Print a one-time link to a browser terminal in a user's container (TERMINAL_SERVICE_URL is its base).") { user };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            if (await context.ParseOwnerAsync(parse, user) is not { } owner)
                return ExitCodes.UsageOrUnavailable;
            var options = TerminalOptions.Bind(context.LoadConfiguration(), out var errors);
            if (errors.Count > 0)
                return await context.FailAsync(json, "invalid-setting", $"configuration: {errors[0]}", ExitCodes.UsageOrUnavailable);
            var record = await services.GetRequiredService<ContainerService>().FindAsync(owner, ct);
            if (record is null)
                return await context.FailAsync(json, "no-container",
                    $"user {owner} has no container; create one first with: dockhand create --user {owner} --name NAME", ExitCodes.Refused);
            var links = new TerminalLinks(services.GetRequiredService<DockhandDatabase>(), Options.Create(options), TimeProvider.System);
            var link = await links.IssueAsync(owner, record.ContainerId, ct);
            if (json)
                await context.Output.WriteLineAsync(JsonSerializer.Serialize(new CliTerminalLink(link.Url.AbsoluteUri, link.ExpiresAt, record.Name), TerminalVerbJson.Default.CliTerminalLink));
            else
                await context.Output.WriteLineAsync(link.Url.AbsoluteUri);
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}

internal sealed record CliTerminalLink(string Url, DateTimeOffset ExpiresAt, string Name);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CliTerminalLink))]
internal sealed partial class TerminalVerbJson : JsonSerializerContext;
