using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>Shared body of /start, /stop and /restart: owner or allowlist; defers, then edits the result.</summary>
internal abstract class LifecycleCommand(BotAuthorizer authorizer, ContainerService containers, BotReplies replies, ILogger logger) : IBotCommand
{
    public abstract string Name { get; }

    protected abstract LifecycleAction Action { get; }

    /// <summary>"Started", "Stopped", "Restarted".</summary>
    protected abstract string Done { get; }

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        var target = interaction.GetUserId(BotCommands.UserOption) ?? interaction.UserId;
        if (await authorizer.ForOwnerCommandAsync(interaction.UserId, target, Name, cancellationToken) is Permission.Refused refused)
        {
            BotLog.Refused(logger, interaction.UserId, Name, refused.Reason);
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }

        await responder.RespondAsync(InteractionResponse.Deferred(), cancellationToken);
        var message = await containers.ApplyAsync(new OwnerId(target), Action, Actor.Discord(interaction.UserId), cancellationToken) switch
        {
            StatusResult.Found found => new DiscordMessage
            {
                Content = $"{Done} {BotMessages.Code(found.Status.Record.Name)} ({BotMessages.Mention(found.Status.Record.Owner)}).",
                Embeds = [BotMessages.StatusEmbed($"{Done} container", found.Status)],
                Components = [],
            },
            StatusResult.Refused r => new DiscordMessage { Content = r.Reason.Message, Embeds = [], Components = [] },
            _ => throw new InvalidOperationException("Unknown lifecycle result."),
        };
        await replies.EditAsync(interaction, responder, message, cancellationToken);
    }
}

internal sealed class StartCommand(BotAuthorizer authorizer, ContainerService containers, BotReplies replies, ILogger<StartCommand> logger)
    : LifecycleCommand(authorizer, containers, replies, logger)
{
    public override string Name => BotCommands.Start;
    protected override LifecycleAction Action => LifecycleAction.Start;
    protected override string Done => "Started";
}

internal sealed class StopCommand(BotAuthorizer authorizer, ContainerService containers, BotReplies replies, ILogger<StopCommand> logger)
    : LifecycleCommand(authorizer, containers, replies, logger)
{
    public override string Name => BotCommands.Stop;
    protected override LifecycleAction Action => LifecycleAction.Stop;
    protected override string Done => "Stopped";
}

internal sealed class RestartCommand(BotAuthorizer authorizer, ContainerService containers, BotReplies replies, ILogger<RestartCommand> logger)
    : LifecycleCommand(authorizer, containers, replies, logger)
{
    public override string Name => BotCommands.Restart;
    protected override LifecycleAction Action => LifecycleAction.Restart;
    protected override string Done => "Restarted";
}
