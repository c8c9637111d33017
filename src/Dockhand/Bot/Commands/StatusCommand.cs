using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>/status [user]: yours by default; the allowlist may look at anyone's. Ephemeral.</summary>
internal sealed class StatusCommand(BotAuthorizer authorizer, ContainerService containers, BotReplies replies, ILogger<StatusCommand> logger) : IBotCommand
{
    public string Name => BotCommands.Status;

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        var target = interaction.GetUserId(BotCommands.UserOption) ?? interaction.UserId;
        if (await authorizer.ForOwnerCommandAsync(interaction.UserId, target, Name, cancellationToken) is Permission.Refused refused)
        {
            BotLog.Refused(logger, interaction.UserId, Name, refused.Reason);
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }

        await responder.RespondAsync(InteractionResponse.Deferred(ephemeral: true), cancellationToken);
        var message = await containers.StatusAsync(new OwnerId(target), cancellationToken) switch
        {
            StatusResult.Found found => new DiscordMessage { Content = "", Embeds = [BotMessages.StatusEmbed("Container status", found.Status)], Components = [] },
            StatusResult.Refused { Reason: Refusals.NoContainer } when target == interaction.UserId =>
                new DiscordMessage { Content = "You don't have a container. An allowlisted user can create one for you with /create.", Embeds = [], Components = [] },
            StatusResult.Refused r => new DiscordMessage { Content = r.Reason.Message, Embeds = [], Components = [] },
            _ => throw new InvalidOperationException("Unknown status result."),
        };
        await replies.EditAsync(interaction, responder, message, cancellationToken);
    }
}
