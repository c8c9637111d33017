using System.Globalization;
using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>/list: every container, one embed per page, with ◀ ▶ buttons once there is more than one page. Ephemeral.</summary>
internal sealed class ListCommand(BotAuthorizer authorizer, ContainerService containers, BotOptions options, BotReplies replies, ILogger<ListCommand> logger)
    : IBotCommand, IBotComponent
{
    public const string ComponentKind = "list";

    /// <summary>A page button must be answered within Discord's 3 s: give the engine this long.</summary>
    private static readonly TimeSpan PageBudget = TimeSpan.FromSeconds(2.5);

    public string Name => BotCommands.List;

    public string Kind => ComponentKind;

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        if (authorizer.ForAllowlistOnly(interaction.UserId, Name) is Permission.Refused refused)
        {
            BotLog.Refused(logger, interaction.UserId, Name, refused.Reason);
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }
        await responder.RespondAsync(InteractionResponse.Deferred(ephemeral: true), cancellationToken);
        await replies.EditAsync(interaction, responder, await PageAsync(0, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// custom_id <c>dh:list:{p|n}:{page}</c>: replaces the message with that page (type 7). No invoker field: the /list
    /// reply is ephemeral, so only its invoker sees the buttons, and every press is checked against the allowlist.
    /// (Buttons from before this format, with a trailing invoker, still parse.)
    /// </summary>
    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, string[] parts, CancellationToken cancellationToken)
    {
        if (authorizer.ForAllowlistOnly(interaction.UserId, Name) is Permission.Refused refused)
        {
            await BotReplies.RefuseAsync(responder, refused.Sentence, cancellationToken);
            return;
        }
        if (parts is not [_, _, _, var pageText, ..] || !int.TryParse(pageText, NumberStyles.None, CultureInfo.InvariantCulture, out var page))
        {
            await BotReplies.RefuseAsync(responder, "That button is out of date; run /list again.", cancellationToken);
            return;
        }
        DiscordMessage message;
        using (var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            budget.CancelAfter(PageBudget);
            try
            {
                message = await PageAsync(page, budget.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                message = new DiscordMessage { Content = BotMessages.EngineSlow };
            }
        }
        await responder.RespondAsync(InteractionResponse.Update(message), cancellationToken);
    }

    private async Task<DiscordMessage> PageAsync(int page, CancellationToken cancellationToken)
    {
        ContainerPage result;
        try
        {
            result = await containers.ListAsync(page, options.ListPageSize, cancellationToken);
            if (result.PageIndex >= result.PageCount && result.Total > 0)
                result = await containers.ListAsync(result.PageCount - 1, options.ListPageSize, cancellationToken);
        }
        catch (EngineUnavailableException e)
        {
            return new DiscordMessage { Content = new Refusals.EngineUnavailable(e.Message).Message, Embeds = [], Components = [] };
        }
        IReadOnlyList<ActionRow> components = [];
        if (result.PageCount > 1)
        {
            var previous = Math.Max(0, result.PageIndex - 1).ToString(CultureInfo.InvariantCulture);
            var next = Math.Min(result.PageCount - 1, result.PageIndex + 1).ToString(CultureInfo.InvariantCulture);
            components =
            [
                new ActionRow(
                    new ActionButton("◀ Previous", $"{BotInteractionHandler.CustomIdPrefix}:{ComponentKind}:p:{previous}", ButtonStyle.Secondary) { Disabled = result.PageIndex == 0 },
                    new ActionButton("Next ▶", $"{BotInteractionHandler.CustomIdPrefix}:{ComponentKind}:n:{next}", ButtonStyle.Secondary) { Disabled = result.PageIndex >= result.PageCount - 1 }),
            ];
        }
        return new DiscordMessage { Content = "", Embeds = [BotMessages.ListEmbed(result)], Components = components };
    }
}
