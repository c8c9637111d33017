using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot;

/// <summary>Bot layer logs: EventIds 4000–4099. Never logs tokens or message bodies.</summary>
internal static partial class BotLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Error, Message = "Handling interaction {InteractionId} ({Name}) failed; replying with the generic error sentence.")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, ulong interactionId, string name);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "The generic error reply for interaction {InteractionId} could not be sent either; the user saw no explanation.")]
    public static partial void ErrorReplyFailed(ILogger logger, Exception exception, ulong interactionId);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "User {UserId} was refused /{Command}: {Reason}.")]
    public static partial void Refused(ILogger logger, ulong userId, string command, string reason);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Debug, Message = "Unknown interaction {Type} '{Name}' ignored with a short reply.")]
    public static partial void Unknown(ILogger logger, InteractionType type, string name);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "A progress edit for interaction {InteractionId} failed.")]
    public static partial void ProgressEditFailed(ILogger logger, Exception exception, ulong interactionId);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Listing local images for autocomplete failed.")]
    public static partial void ImageListFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "AUTHORIZED_USERS is empty: nobody can create or destroy containers from Discord.")]
    public static partial void NoAuthorizedUsers(ILogger logger);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Debug, Message = "Editing @original of interaction {InteractionId} failed with 404; retrying.")]
    public static partial void EditRetry(ILogger logger, ulong interactionId);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Information, Message = "The token of interaction {InteractionId} had expired; its result was posted to channel {ChannelId} with the bot token.")]
    public static partial void ResultPostedToChannel(ILogger logger, ulong interactionId, ulong channelId);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "The token of interaction {InteractionId} ({Command}) had expired and there is no bot token or channel to post with: the user was not shown the result (the container change itself is done and audited).")]
    public static partial void ResultUndeliverable(ILogger logger, ulong interactionId, string command);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Interaction {InteractionId} ({Name}): the command's work is done, but Discord refused its reply ({Reason}); the user may not see the result.")]
    public static partial void ReplyFailedAfterWork(ILogger logger, ulong interactionId, string name, string reason);
}
