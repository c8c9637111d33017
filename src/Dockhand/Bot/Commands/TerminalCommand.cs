using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Dockhand.Terminal;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>/terminal: a one-time link to a browser shell in your own container. Always ephemeral.</summary>
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
        var owner = new OwnerId(self);
        DiscordMessage message;
        switch (await containers.StatusAsync(owner, cancellationToken))
        {
            case StatusResult.Found { Status.State: LiveState.Running } found:
                var link = await links.IssueAsync(owner, found.Status.Record.ContainerId, cancellationToken);
                message = new DiscordMessage
                {
                    Content = $"Your terminal for {BotMessages.Code(found.Status.Record.Name)} is ready. The link works once and expires {BotMessages.Relative(link.ExpiresAt)}; don't share it.",
                    Embeds = [],
                    Components = [new ActionRow(new LinkButton("Open terminal", link.Url))],
                };
                break;
            case StatusResult.Found found:
                message = new DiscordMessage
                {
                    Content = $"Your container {BotMessages.Code(found.Status.Record.Name)} is {BotMessages.State(found.Status.State)}; start it with /start first.",
                    Embeds = [],
                    Components = [],
                };
                break;
            case StatusResult.Refused { Reason: Refusals.NoContainer }:
                message = new DiscordMessage { Content = "You don't have a container. An allowlisted user can create one for you with /create.", Embeds = [], Components = [] };
                break;
            case StatusResult.Refused r:
                message = new DiscordMessage { Content = r.Reason.Message, Embeds = [], Components = [] };
                break;
            default:
                throw new InvalidOperationException("Unknown status result.");
        }
        await replies.EditAsync(interaction, responder, message, cancellationToken);
    }
}
