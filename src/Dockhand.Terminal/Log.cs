using Microsoft.Extensions.Logging;

namespace Dockhand.Terminal;

/// <summary>Terminal log messages: EventIds 5000-5099. Never logs tokens, session ids or keystrokes.</summary>
internal static partial class Log
{
    [LoggerMessage(5000, LogLevel.Information, "Terminal link issued for owner {Owner} and container {ContainerId}, expires {ExpiresAt:o}")]
    public static partial void LinkIssued(ILogger logger, string owner, string containerId, DateTimeOffset expiresAt);

    [LoggerMessage(5001, LogLevel.Information, "Terminal link refused for container {ContainerId}: {Reason}")]
    public static partial void LinkRefused(ILogger logger, string containerId, string reason);

    [LoggerMessage(5002, LogLevel.Information, "Terminal session opened for owner {Owner} and container {ContainerId}")]
    public static partial void SessionOpened(ILogger logger, string owner, string containerId);

    [LoggerMessage(5003, LogLevel.Information, "Terminal session for container {ContainerId} started exec {ExecId} with {Shell}")]
    public static partial void ExecStarted(ILogger logger, string containerId, string execId, string shell);

    [LoggerMessage(5004, LogLevel.Information, "Terminal session for container {ContainerId} ended: {Reason}")]
    public static partial void SessionEnded(ILogger logger, string containerId, string reason);

    // 5005 and 5006 (an exec killed after its session, or surviving that) are the containers runtime's now: 2071, 2072.

    [LoggerMessage(5007, LogLevel.Warning, "WebSocket refused: Origin {Origin} does not match {Expected}")]
    public static partial void OriginRefused(ILogger logger, string origin, string expected);

    [LoggerMessage(5008, LogLevel.Warning, "Terminal request failed for container {ContainerId}")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string containerId);

    [LoggerMessage(5009, LogLevel.Information, "Swept {Count} expired terminal links and {Sessions} expired terminal sessions")]
    public static partial void Swept(ILogger logger, int count, int sessions);

    [LoggerMessage(5010, LogLevel.Warning, "Sweeping expired terminal links failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(5011, LogLevel.Warning, "Terminal session for container {ContainerId} failed")]
    public static partial void SessionFailed(ILogger logger, Exception exception, string containerId);

    [LoggerMessage(5012, LogLevel.Debug, "Terminal session for container {ContainerId} detached; waiting {Grace} for a re-attach")]
    public static partial void SessionDetached(ILogger logger, string containerId, TimeSpan grace);

    [LoggerMessage(5013, LogLevel.Information, "Terminal session for container {ContainerId} replaced: its owner opened more than {Max}")]
    public static partial void SessionReplaced(ILogger logger, string containerId, int max);

    [LoggerMessage(5014, LogLevel.Information, "Terminal link refused for owner {Owner}: {Limit} links in the last minute")]
    public static partial void LinkRateLimited(ILogger logger, string owner, int limit);

    [LoggerMessage(5015, LogLevel.Warning, "Terminal redeem refused: Origin {Origin} does not match {Expected}")]
    public static partial void RedeemOriginRefused(ILogger logger, string origin, string expected);

    [LoggerMessage(5016, LogLevel.Information, "Terminal session for owner {Owner} and container {ContainerId} reopened here with a new shell; the process that ran it no longer serves its page")]
    public static partial void SessionReopened(ILogger logger, string owner, string containerId);

    [LoggerMessage(5017, LogLevel.Information, "Terminal session for container {ContainerId} moved to another Dockhand process; ending its shell here")]
    public static partial void SessionMoved(ILogger logger, string containerId);

    [LoggerMessage(5018, LogLevel.Warning, "Recording terminal sessions in the database failed")]
    public static partial void SessionStoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(5019, LogLevel.Information, "Owner {Owner} opened more than {Max} terminal sessions: {Count} held by other Dockhand processes end at their next heartbeat")]
    public static partial void SessionsReplacedElsewhere(ILogger logger, string owner, int count, int max);
}
