using System.Globalization;
using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>
/// /destroy user: allowlist only. Asks for confirmation with two buttons whose custom_id carries the target, the invoker
/// and an expiry (<c>dh:destroy:{yes|no}:{target}:{invoker}:{unix seconds}</c>). Only the invoker may press them, and
/// only before they expire. Confirming updates the message and posts the result as a follow-up.
/// </summary>
internal sealed class DestroyCommand(BotAuthorizer authorizer, ContainerService containers, BotOptions options, BotReplies replies, ILogger<DestroyCommand> logger)
    : IBotCommand, IBotComponent
{
    public const string ComponentKind = "destroy";

    public string Name => BotCommands.Destroy;

    public string Kind => ComponentKind;

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        if (authorizer.ForAllowlistOnly(interaction.UserId, Name) is Permission.Refused refused)
        {
            BotLog.Refused(logger, interaction.UserId, Name, refused.Reason);
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }
        if (interaction.GetUserId(BotCommands.UserOption) is not { } target)
        {
            await BotReplies.RefuseAsync(responder, "Pick the user whose container to destroy, or paste their id.", cancellationToken);
            return;
        }
        var record = await containers.FindAsync(new OwnerId(target), cancellationToken);
        if (record is null)
        {
            await BotReplies.RefuseAsync(responder, $"{BotMessages.Mention(target)} has no container, so there is nothing to destroy.", cancellationToken);
            return;
        }

        var expires = replies.Time.GetUtcNow() + options.DestroyConfirmationLifetime;
        var tail = string.Create(CultureInfo.InvariantCulture, $"{target}:{interaction.UserId}:{expires.ToUnixTimeSeconds()}");
        await responder.RespondAsync(InteractionResponse.Message(new DiscordMessage
        {
            Content = $"Destroy {BotMessages.Code(record.Name)} ({BotMessages.Mention(record.Owner)})? The container and every file in it will be gone. " +
                      $"Only {BotMessages.Mention(interaction.UserId)} can confirm, until {BotMessages.Relative(expires)}.",
            Components =
            [
                new ActionRow(
                    new ActionButton("Destroy", $"{BotInteractionHandler.CustomIdPrefix}:{ComponentKind}:yes:{tail}", ButtonStyle.Danger),
                    new ActionButton("Cancel", $"{BotInteractionHandler.CustomIdPrefix}:{ComponentKind}:no:{tail}", ButtonStyle.Secondary)),
            ],
        }), cancellationToken);
    }

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, string[] parts, CancellationToken cancellationToken)
    {
        if (parts is not [_, _, var choice and ("yes" or "no"), var targetText, var invokerText, var expiresText]
            || !ulong.TryParse(targetText, NumberStyles.None, CultureInfo.InvariantCulture, out var target)
            || !ulong.TryParse(invokerText, NumberStyles.None, CultureInfo.InvariantCulture, out var invoker)
            || !long.TryParse(expiresText, NumberStyles.None, CultureInfo.InvariantCulture, out var expiresUnix))
        {
            await BotReplies.RefuseAsync(responder, "That button is out of date; run /destroy again.", cancellationToken);
            return;
        }
        if (interaction.UserId != invoker)
        {
            BotLog.Refused(logger, interaction.UserId, Name, "not the invoker of the confirmation");
            await BotReplies.RefuseAsync(responder, $"Only {BotMessages.Mention(invoker)}, who ran this /destroy, can answer it.", cancellationToken);
            return;
        }
        if (choice == "no")
        {
            await responder.RespondAsync(InteractionResponse.Update(new DiscordMessage
            {
                Content = $"Cancelled: {BotMessages.Mention(target)}'s container was not destroyed.",
                Components = [],
            }), cancellationToken);
            return;
        }
        if (replies.Time.GetUtcNow() >= DateTimeOffset.FromUnixTimeSeconds(expiresUnix))
        {
            await responder.RespondAsync(InteractionResponse.Update(new DiscordMessage
            {
                Content = "This confirmation has expired and nothing was destroyed; run /destroy again.",
                Components = [],
            }), cancellationToken);
            return;
        }
        // Re-check: the invoker may have left the allowlist since.
        if (authorizer.ForAllowlistOnly(interaction.UserId, Name) is Permission.Refused refused)
        {
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }

        await responder.RespondAsync(InteractionResponse.Update(new DiscordMessage
        {
            Content = $"Destroying {BotMessages.Mention(target)}'s container…",
            Components = [],
        }), cancellationToken);
        var result = await containers.DestroyAsync(new OwnerId(target), Actor.Discord(interaction.UserId), cancellationToken);
        var text = result switch
        {
            DestroyResult.Destroyed { Record: { } gone } => $"Destroyed {BotMessages.Code(gone.Name)} ({BotMessages.Mention(gone.Owner)}).",
            DestroyResult.Destroyed => $"{BotMessages.Mention(target)} had no container any more; nothing was left to destroy.",
            DestroyResult.Refused r => r.Reason.Message,
            _ => throw new InvalidOperationException("Unknown destroy result."),
        };
        await replies.FollowUpAsync(interaction, responder, DiscordMessage.Text(text), cancellationToken);
    }
}
