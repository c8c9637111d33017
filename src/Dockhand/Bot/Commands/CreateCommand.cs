using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>/create user container_name [image]: allowlist only. Defers, edits pull progress, then the result.</summary>
internal sealed class CreateCommand(BotAuthorizer authorizer, ContainerService containers, BotOptions options, BotReplies replies, ILogger<CreateCommand> logger)
    : IBotCommand
{
    public string Name => BotCommands.Create;

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        if (authorizer.ForAllowlistOnly(interaction.UserId, Name) is Permission.Refused refused)
        {
            BotLog.Refused(logger, interaction.UserId, Name, refused.Reason);
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }
        var target = interaction.GetUserId(BotCommands.UserOption);
        var name = interaction.GetString(BotCommands.NameOption)?.Trim() ?? "";
        var image = interaction.GetString(BotCommands.ImageOption)?.Trim();
        if (target is not { } targetId)
        {
            await BotReplies.RefuseAsync(responder, "Pick the user the container is for in the user option.", cancellationToken);
            return;
        }
        if (interaction.GetUser(BotCommands.UserOption) is { IsBot: true })
        {
            await BotReplies.RefuseAsync(responder, "Bots can't own containers; pick a person.", cancellationToken);
            return;
        }
        if (!ContainerService.IsValidName(name))
        {
            await BotReplies.RefuseAsync(responder, new Refusals.InvalidName(name).Message, cancellationToken);
            return;
        }

        // The deferral travels to Discord while the create's checks run (the intent row, the image, the network); the
        // create pulls and makes nothing in the engine before Discord has taken it, so a pull's progress edits come after it.
        var deferred = responder.RespondAsync(InteractionResponse.Deferred(), cancellationToken);
        var owner = new OwnerId(targetId);
        var progress = new PullProgressEditor((text, ct) => replies.EditAsync(interaction, responder, text, ct), replies.Time, options.ProgressEditInterval,
            logger, interaction.Id, cancellationToken, interaction.TokenExpiresAt - BotReplies.ProgressStopsBeforeExpiry);
        CreateResult result;
        try
        {
            result = await containers.CreateAsync(new CreateRequest(owner, name, string.IsNullOrEmpty(image) ? null : image, Actor.Discord(interaction.UserId)),
                progress, deferred, cancellationToken);
        }
        catch
        {
            // The create's own failure is the one to report (it is the deferral's when the create waited for it);
            // the deferral is only waited for, so the handler never goes on while it is still in flight.
            await deferred.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
        finally
        {
            await progress.DrainAsync();
        }
        // The handler goes on only once Discord has answered the deferral (a refusal is thrown here when the create
        // returned a refusal of its own without waiting for it), so the exception boundary sees the true state.
        await deferred;

        var message = result switch
        {
            CreateResult.Created created => new DiscordMessage
            {
                Content = $"Created {BotMessages.Code(name)} for {BotMessages.Mention(owner)}. They can open a shell in it with /terminal." +
                          (created.HomeRestored ? " Their kept home volume is mounted again, with the files from their last container." : ""),
                Embeds = [BotMessages.StatusEmbed("Container created", created.Status)],
                Components = [],
            },
            CreateResult.Refused r => new DiscordMessage { Content = r.Reason.Message, Embeds = [], Components = [] },
            _ => throw new InvalidOperationException("Unknown create result."),
        };
        await replies.EditAsync(interaction, responder, message, cancellationToken);
    }
}
