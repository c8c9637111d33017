using System.Net;
using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot;

/// <summary>Reply helpers shared by the command handlers.</summary>
internal sealed class BotReplies(TimeProvider time, DiscordRestClient rest, ContainerStore audit, ILogger<BotReplies> logger)
{
    /// <summary>Progress edits stop this long before the interaction token expires, leaving room for the final edit.</summary>
    public static readonly TimeSpan ProgressStopsBeforeExpiry = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan[] EditRetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1)];

    public TimeProvider Time => time;

    /// <summary>An ephemeral one-sentence reply as the initial response.</summary>
    public static Task RefuseAsync(IInteractionResponder responder, string sentence, CancellationToken cancellationToken) =>
        responder.RespondAsync(InteractionResponse.Message(sentence, ephemeral: true), cancellationToken);

    /// <summary>
    /// PATCH @original. Over the HTTP transport Discord may not yet know the deferral when the edit arrives (it learns it
    /// from our HTTP response), so an "unknown webhook/message" 404 is retried a few times before giving up.
    /// </summary>
    public async Task EditAsync(Interaction interaction, IInteractionResponder responder, DiscordMessage message, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await responder.EditOriginalAsync(message, cancellationToken);
                return;
            }
            catch (Exception e) when (e is InteractionTokenExpiredException || e is DiscordRestException { Code: 50027 })
            {
                await DeliverAfterExpiryAsync(interaction, message, cancellationToken);
                return;
            }
            catch (DiscordRestException e) when (e.Status == HttpStatusCode.NotFound && attempt < EditRetryDelays.Length)
            {
                BotLog.EditRetry(logger, interaction.Id);
                await Task.Delay(EditRetryDelays[attempt], time, cancellationToken);
            }
        }
    }

    /// <summary>
    /// The interaction's 15-minute token has expired (a long pull): post the result in the channel with the bot token,
    /// mentioning the invoker. Without a bot token or a channel, log and audit that the result could not be shown.
    /// </summary>
    private async Task DeliverAfterExpiryAsync(Interaction interaction, DiscordMessage message, CancellationToken cancellationToken)
    {
        var command = interaction.CommandName ?? "";
        if (!rest.HasBotToken || interaction.ChannelId is not { } channelId)
        {
            BotLog.ResultUndeliverable(logger, interaction.Id, command);
            await audit.AppendAuditAsync(Actor.Discord(interaction.UserId), command, null, null, null, "reply-undeliverable",
                $"interaction {interaction.Id}: its 15-minute token expired and there is no bot token or channel to post the result with", cancellationToken);
            return;
        }
        var content = $"<@{interaction.UserId}> (your /{interaction.CommandName} took longer than Discord lets a reply be edited) {message.Content}";
        await rest.CreateChannelMessageAsync(channelId, message with { Content = content }, cancellationToken);
        BotLog.ResultPostedToChannel(logger, interaction.Id, channelId);
        await audit.AppendAuditAsync(Actor.Discord(interaction.UserId), command, null, null, null, "reply-posted-to-channel",
            $"interaction {interaction.Id}: its token expired; the result was posted to channel {channelId}", cancellationToken);
    }

    public Task EditAsync(Interaction interaction, IInteractionResponder responder, string content, CancellationToken cancellationToken) =>
        EditAsync(interaction, responder, new DiscordMessage { Content = content, Embeds = [], Components = [] }, cancellationToken);
}
