using System.Globalization;
using Dockhand.Containers;
using Dockhand.Discord;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>
/// /destroy user [purge]: allowlist only. Asks for confirmation with two buttons whose custom_id carries the target, the invoker,
/// the short id of the container shown, whether the home volume goes too, and an expiry
/// (<c>dh:destroy:{yes|no}:{target}:{invoker}:{container id, 12 chars}:{keep|purge}:{unix seconds}</c>).
/// Only the invoker may press them, only before they expire, and only while the target still has the container that was
/// shown (a container destroyed and re-created in between is not destroyed by an old confirmation). Confirming updates the message (buttons removed), then edits that same message in place
/// with the result: after a type 7 callback, @original is the message the buttons were on.
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
        var purge = interaction.GetBoolean(BotCommands.PurgeOption) == true;
        var record = await containers.FindAsync(new OwnerId(target), cancellationToken);
        if (record is null)
        {
            await BotReplies.RefuseAsync(responder, $"{BotMessages.Mention(target)} has no container, so there is nothing to destroy." +
                (purge ? " To delete a kept home volume without a container, an operator runs `dockhand destroy --purge`." : ""), cancellationToken);
            return;
        }

        var expires = replies.Time.GetUtcNow() + options.DestroyConfirmationLifetime;
        var tail = string.Create(CultureInfo.InvariantCulture, $"{target}:{interaction.UserId}:{ContainerIds.Short(record.ContainerId)}:{(purge ? "purge" : "keep")}:{expires.ToUnixTimeSeconds()}");
        var files = !containers.Options.HomesEnabled ? "The container and every file in it will be gone."
            : purge ? "The container AND their home volume will be deleted: every file in it will be gone for good."
            : $"Their files in {BotMessages.Code(containers.Options.VolumePath)} are kept, and /create brings them back.";
        await responder.RespondAsync(InteractionResponse.Message(new DiscordMessage
        {
            Content = $"Destroy {BotMessages.Code(record.Name)} ({BotMessages.Mention(record.Owner)})? {files} " +
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
        if (parts is not [_, _, var choice and ("yes" or "no"), var targetText, var invokerText, { Length: > 0 } shownId, var home and ("keep" or "purge"), var expiresText]
            || !Snowflake.TryParse(targetText, out var target)
            || !Snowflake.TryParse(invokerText, out var invoker)
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

        // The confirmation names one container: refuse if the target's container is no longer that one.
        var current = await containers.FindAsync(new OwnerId(target), cancellationToken);
        if (current is null || !current.ContainerId.StartsWith(shownId, StringComparison.Ordinal))
        {
            BotLog.Refused(logger, interaction.UserId, Name, "confirmation is for a container that is gone");
            await responder.RespondAsync(InteractionResponse.Update(new DiscordMessage
            {
                Content = "That confirmation is out of date: the container changed since. Nothing was destroyed; run /destroy again.",
                Components = [],
            }), cancellationToken);
            return;
        }

        await responder.RespondAsync(InteractionResponse.Update(new DiscordMessage
        {
            Content = $"Destroying {BotMessages.Mention(target)}'s container…",
            Components = [],
        }), cancellationToken);
        var result = await containers.DestroyAsync(new OwnerId(target), Actor.Discord(interaction.UserId), purge: home == "purge", cancellationToken);
        var text = result switch
        {
            DestroyResult.Destroyed { Record: { } gone } destroyed => $"Destroyed {BotMessages.Code(gone.Name)} ({BotMessages.Mention(gone.Owner)})." + HomeSentence(destroyed.Home),
            DestroyResult.Destroyed destroyed => $"{BotMessages.Mention(target)} had no container any more; nothing was left to destroy." + HomeSentence(destroyed.Home),
            DestroyResult.Refused r => r.Reason.Message,
            _ => throw new InvalidOperationException("Unknown destroy result."),
        };
        await replies.EditAsync(interaction, responder, text, cancellationToken);
    }

    private static string HomeSentence(HomeOutcome home) => home switch
    {
        HomeOutcome.Kept => " Their files are kept in their home volume; /create brings them back.",
        HomeOutcome.Purged => " Their home volume and its files were deleted.",
        _ => "",
    };
}
