using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Gateway;

/// <summary>
/// Supervises <see cref="DiscordGatewayClient.RunAsync"/>: restarts it after unexpected errors (with a delay),
/// stops for good on <see cref="GatewayFatalException"/> (rethrown, so the host stops with the clear message),
/// and does nothing when no token is configured. With an <see cref="IGatewayLeadership"/> registered (several processes
/// share the bot), it holds the gateway only during this process's turn: it waits for the turn, runs the client until
/// the turn ends, then waits again.
/// </summary>
internal sealed partial class DiscordGatewayService(
    DiscordGatewayClient client,
    IOptions<DiscordOptions> options,
    TimeProvider timeProvider,
    ILogger<DiscordGatewayService> logger,
    IGatewayLeadership? leadership = null) : BackgroundService
{
    internal static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrWhiteSpace(options.Value.Token))
        {
            LogDisabled(logger);
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (leadership is null)
                {
                    await client.RunAsync(stoppingToken);
                    continue;
                }

                LogWaitingForTurn(logger);
                var turn = await leadership.WaitForTurnAsync(stoppingToken);
                LogTurnStarted(logger);
                await client.RunAsync(stoppingToken, turn);
                if (turn.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
                    LogTurnEnded(logger);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (GatewayFatalException ex)
            {
                LogStopped(logger, ex.Message);
                throw;
            }
            catch (Exception ex)
            {
                LogCrashed(logger, ex);
                await Task.Delay(RestartDelay, timeProvider, stoppingToken);
            }
        }
    }

    [LoggerMessage(1140, LogLevel.Warning, "Gateway disabled: DISCORD_TOKEN is not set")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(1141, LogLevel.Critical, "Gateway stopped: {Message}")]
    private static partial void LogStopped(ILogger logger, string message);

    [LoggerMessage(1143, LogLevel.Information, "Gateway: waiting for this process's turn to hold it (one process at a time)")]
    private static partial void LogWaitingForTurn(ILogger logger);

    [LoggerMessage(1144, LogLevel.Information, "Gateway: this process's turn to hold it")]
    private static partial void LogTurnStarted(ILogger logger);

    [LoggerMessage(1145, LogLevel.Warning, "Gateway: this process's turn ended (its lock was lost); handing the session over")]
    private static partial void LogTurnEnded(ILogger logger);

    [LoggerMessage(1142, LogLevel.Error, "Gateway loop failed unexpectedly; restarting")]
    private static partial void LogCrashed(ILogger logger, Exception exception);
}
