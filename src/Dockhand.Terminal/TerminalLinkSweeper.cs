using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Terminal;

/// <summary>Deletes expired terminal links and the rows of sessions whose cookies expired every <see cref="TerminalOptions.SweepInterval"/> (timed by the injected TimeProvider).</summary>
internal sealed class TerminalLinkSweeper(TerminalLinks links, TerminalSessionStore sessions, IOptions<TerminalOptions> options, TimeProvider time, ILogger<TerminalLinkSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        do
        {
            try
            {
                var count = await links.SweepAsync(stoppingToken);
                var sessionCount = await sessions.SweepAsync(stoppingToken);
                if (count + sessionCount > 0)
                    Log.Swept(logger, count, sessionCount);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.SweepFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
