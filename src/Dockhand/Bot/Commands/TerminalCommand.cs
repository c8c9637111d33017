using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Dockhand.Terminal;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>
/// /terminal: a one-time link to a browser shell in your own container. Always ephemeral. A container that idle culling
/// stopped is started again first; one the owner stopped stays stopped (the reply says so).
/// </summary>
internal sealed class TerminalCommand(BotAuthorizer authorizer, ContainerService containers, TerminalLinks links, BotReplies replies, ILogger<TerminalCommand> logger)
    : IBotCommand
{
    public string Name => BotCommands.Terminal;

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        var self = interaction.UserId;
        if (await authorizer.ForOwnerCommandAsync(self, self, Name, cancellationToken) is Permission.Refused refused)
        {
            BotLog.Refused(logger, self, Name, refused.Reason);
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }

        await responder.RespondAsync(InteractionResponse.Deferred(ephemeral: true), cancellationToken);
        var restarted = await containers.StartIfIdleStoppedAsync(new OwnerId(self), Actor.Discord(self), cancellationToken);
        var message = await links.IssueForOwnerAsync(new OwnerId(self), Actor.Discord(self), cancellationToken) switch
        {
            TerminalLinkResult.Issued issued => new DiscordMessage
            {
                Content = (restarted is null ? "" : $"Your container was stopped after {restarted} idle; it is running again. ")
                    + $"Your terminal for {BotMessages.Code(issued.Container.Name)} is ready. The link works once and expires {BotMessages.Relative(issued.Link.ExpiresAt)}; don't share it.",
                Embeds = [],
                Components = [new ActionRow(new LinkButton("Open terminal", issued.Link.Url))],
            },
            TerminalLinkResult.NoContainer => Text("You don't have a container. An allowlisted user can create one for you with /create."),
            TerminalLinkResult.NotRunning notRunning => Text(notRunning.Sentence),
            TerminalLinkResult.RateLimited limited => Text(limited.Sentence),
            TerminalLinkResult.EngineUnavailable engine => Text(engine.Sentence),
            _ => throw new InvalidOperationException("Unknown terminal link result."),
        };
        await replies.EditAsync(interaction, responder, message, cancellationToken);
    }

    private static DiscordMessage Text(string content) => new() { Content = content, Embeds = [], Components = [] };
}
