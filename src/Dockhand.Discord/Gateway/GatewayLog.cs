using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Gateway;

// EventIds 1100–1149: Discord gateway. Never log the token, session ids or event bodies.
internal static partial class GatewayLog
{
    [LoggerMessage(1100, LogLevel.Information, "Gateway: connecting to {Url} (resume: {Resume})")]
    internal static partial void LogConnecting(ILogger logger, string url, bool resume);

    [LoggerMessage(1101, LogLevel.Warning, "Gateway: connection failed: {Reason}")]
    internal static partial void LogConnectFailed(ILogger logger, string reason);

    [LoggerMessage(1102, LogLevel.Debug, "Gateway: Hello, heartbeat interval {IntervalMs} ms")]
    internal static partial void LogHello(ILogger logger, int intervalMs);

    [LoggerMessage(1103, LogLevel.Information, "Gateway: identifying with intents {Intents}")]
    internal static partial void LogIdentifying(ILogger logger, int intents);

    [LoggerMessage(1104, LogLevel.Information, "Gateway: resuming from sequence {Sequence}")]
    internal static partial void LogResuming(ILogger logger, long sequence);

    [LoggerMessage(1105, LogLevel.Information, "Gateway: READY (application {ApplicationId}, resume host {ResumeHost})")]
    internal static partial void LogReady(ILogger logger, ulong applicationId, string resumeHost);

    [LoggerMessage(1106, LogLevel.Information, "Gateway: RESUMED at sequence {Sequence}")]
    internal static partial void LogResumed(ILogger logger, long sequence);

    [LoggerMessage(1107, LogLevel.Debug, "Gateway: the server asked for a heartbeat")]
    internal static partial void LogHeartbeatRequested(ILogger logger);

    [LoggerMessage(1108, LogLevel.Warning, "Gateway: no heartbeat ACK within {IntervalMs} ms: zombie connection, reconnecting to resume")]
    internal static partial void LogZombie(ILogger logger, double intervalMs);

    [LoggerMessage(1109, LogLevel.Warning, "Gateway: invalid session (resumable: {Resumable})")]
    internal static partial void LogInvalidSession(ILogger logger, bool resumable);

    [LoggerMessage(1110, LogLevel.Information, "Gateway: disconnected, close code {CloseCode} ({CloseMeaning}), {Reason}; next: {Next}")]
    internal static partial void LogDisconnected(ILogger logger, int closeCode, string closeMeaning, string reason, string next);

    [LoggerMessage(1111, LogLevel.Information, "Gateway: reconnecting in {DelayMs} ms to {Next}")]
    internal static partial void LogReconnecting(ILogger logger, double delayMs, string next);

    [LoggerMessage(1112, LogLevel.Critical, "Gateway: fatal close code {CloseCode}: {Message}")]
    internal static partial void LogFatal(ILogger logger, int closeCode, string message);

    [LoggerMessage(1113, LogLevel.Warning, "Gateway: could not get the gateway URL or limits from GET /gateway/bot")]
    internal static partial void LogGatewayInfoFailed(ILogger logger, Exception exception);

    [LoggerMessage(1114, LogLevel.Warning, "Gateway: session start limit used up; waiting {Seconds} s before identifying")]
    internal static partial void LogSessionStartsExhausted(ILogger logger, double seconds);

    [LoggerMessage(1115, LogLevel.Debug, "Gateway: identify concurrency ({MaxConcurrency} per 5 s): waiting {DelayMs} ms")]
    internal static partial void LogIdentifyWait(ILogger logger, double delayMs, int maxConcurrency);

    [LoggerMessage(1116, LogLevel.Debug, "Gateway: send limit reached; next send in {DelayMs} ms")]
    internal static partial void LogSendThrottled(ILogger logger, double delayMs);

    [LoggerMessage(1117, LogLevel.Error, "Gateway: refused to send op {Op}: {Size} bytes is above the {Limit}-byte limit")]
    internal static partial void LogPayloadTooLarge(ILogger logger, int op, int size, int limit);

    [LoggerMessage(1118, LogLevel.Error, "Gateway: dispatch handler failed for {EventName}")]
    internal static partial void LogDispatchHandlerFailed(ILogger logger, Exception exception, string eventName);

    [LoggerMessage(1119, LogLevel.Warning, "Gateway: unreadable payload from the gateway ({ErrorType}); reconnecting")]
    internal static partial void LogUnreadablePayload(ILogger logger, string errorType);

    [LoggerMessage(1121, LogLevel.Critical, "Gateway: stopping: {Message}")]
    internal static partial void LogTokenRejected(ILogger logger, string message);

    [LoggerMessage(1122, LogLevel.Warning, "Gateway: connection failed: no handshake within {Seconds} s")]
    internal static partial void LogConnectTimedOut(ILogger logger, double seconds);

    [LoggerMessage(1120, LogLevel.Error, "Gateway: send loop failed; reconnecting")]
    internal static partial void LogSendLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(1123, LogLevel.Information, "Gateway: took the saved session, resuming after sequence {Sequence}")]
    internal static partial void LogSessionTaken(ILogger logger, long sequence);

    [LoggerMessage(1124, LogLevel.Warning, "Gateway: could not save the session checkpoint ({ErrorType}); trying again")]
    internal static partial void LogCheckpointFailed(ILogger logger, string errorType);
}
