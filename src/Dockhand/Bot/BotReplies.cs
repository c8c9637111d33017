using System.Net;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot;

/// <summary>Reply helpers shared by the command handlers.</summary>
internal sealed class BotReplies(TimeProvider time, ILogger<BotReplies> logger)
{
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
            catch (DiscordRestException e) when (e.Status == HttpStatusCode.NotFound && attempt < EditRetryDelays.Length)
            {
                BotLog.EditRetry(logger, interaction.Id);
                await Task.Delay(EditRetryDelays[attempt], time, cancellationToken);
            }
        }
    }

    public Task EditAsync(Interaction interaction, IInteractionResponder responder, string content, CancellationToken cancellationToken) =>
        EditAsync(interaction, responder, new DiscordMessage { Content = content, Embeds = [], Components = [] }, cancellationToken);

    /// <summary>Same retry for follow-ups (after a component update).</summary>
    public async Task FollowUpAsync(Interaction interaction, IInteractionResponder responder, DiscordMessage message, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await responder.FollowUpAsync(message, cancellationToken);
                return;
            }
            catch (DiscordRestException e) when (e.Status == HttpStatusCode.NotFound && attempt < EditRetryDelays.Length)
            {
                BotLog.EditRetry(logger, interaction.Id);
                await Task.Delay(EditRetryDelays[attempt], time, cancellationToken);
            }
        }
    }
}
