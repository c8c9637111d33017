using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Gateway;

/// <summary>
/// Supervises <see cref="DiscordGatewayClient.RunAsync"/>: restarts it after unexpected errors (with a delay),
/// stops for good on <see cref="GatewayFatalException"/> (rethrown, so the host stops with the clear message),
/// and does nothing when no token is configured.
/// </summary>
internal sealed partial class DiscordGatewayService(
    DiscordGatewayClient client,
    IOptions<DiscordOptions> options,
    TimeProvider timeProvider,
    ILogger<DiscordGatewayService> logger) : BackgroundService
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
                await client.RunAsync(stoppingToken);
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

    [LoggerMessage(1142, LogLevel.Error, "Gateway loop failed unexpectedly; restarting")]
    private static partial void LogCrashed(ILogger logger, Exception exception);
}
