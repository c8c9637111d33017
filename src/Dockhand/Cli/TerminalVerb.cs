using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dockhand.Containers;
using Dockhand.Terminal;

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
            var links = services.GetRequiredService<TerminalLinks>();
            switch (await links.IssueForOwnerAsync(owner, Actor.Cli(Environment.UserName), ct))
            {
                case TerminalLinkResult.Issued { Link: var link, Container: var record }:
                    if (json)
                        await context.Output.WriteLineAsync(JsonSerializer.Serialize(new CliTerminalLink(link.Url.AbsoluteUri, link.ExpiresAt, record.Name), TerminalVerbJson.Default.CliTerminalLink));
                    else
                        await context.Output.WriteLineAsync(link.Url.AbsoluteUri);
                    return ExitCodes.Success;
                case TerminalLinkResult.NoContainer:
                    return await context.FailAsync(json, "no-container",
                        $"user {owner} has no container; create one first with: dockhand create --user {owner} --name NAME", ExitCodes.Refused);
                case TerminalLinkResult.NotRunning notRunning:
                    return await context.FailAsync(json, "not-running", $"{notRunning.Sentence} (dockhand start --user {owner})", ExitCodes.Refused);
                case TerminalLinkResult.RateLimited limited:
                    return await context.FailAsync(json, "rate-limited",
                        $"user {owner} has had {limited.Limit} terminal links in the last minute (TERMINAL_LINKS_PER_MINUTE); try again in {limited.RetryAfterSeconds} seconds", ExitCodes.Refused);
                case TerminalLinkResult.EngineUnavailable engine:
                    return await context.FailAsync(json, "engine-unavailable", engine.Sentence, ExitCodes.UsageOrUnavailable, engine.Detail);
                default:
                    throw new InvalidOperationException("Unknown terminal link result.");
            }
        }, cancellationToken, terminal: true));
        return command;
    }
}

internal sealed record CliTerminalLink(string Url, DateTimeOffset ExpiresAt, string Name);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CliTerminalLink))]
internal sealed partial class TerminalVerbJson : JsonSerializerContext;
