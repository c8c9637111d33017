using Dockhand.Containers.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers.Culling;

/// <summary>
/// Runs <see cref="IdleCuller.CheckAsync"/> every <see cref="IdleCuller.Interval"/> on the injected clock, when culling
/// is on, and only while this process leads (<see cref="Storage.InstanceLeadership"/>): one culler per instance.
/// </summary>
internal sealed partial class IdleCullerService(IdleCuller culler, TimeProvider time, ContainerOptions options, ILogger<IdleCullerService> logger, Storage.InstanceLeadership? leadership = null) : BackgroundService
{
    private PeriodicTimer? _timer;

    /// <summary>
    /// Starts the timer here, when the host starts, rather than in <see cref="ExecuteAsync"/>, which .NET 10 runs later
    /// on the thread pool: the first check is due one interval after start-up, whenever the loop gets going.
    /// </summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (culler.Enabled)
        {
            _timer = new PeriodicTimer(culler.Interval, time);
            var idle = options.IdleStopAfter is { } idleStopAfter ? DurationText.Format(idleStopAfter) : "off";
            var destroy = options.StoppedDestroyAfter is { } stoppedDestroyAfter ? DurationText.Format(stoppedDestroyAfter) : "off";
            var interval = DurationText.Format(culler.Interval);
            LogOn(logger, idle, options.IdleCpuPercent, destroy, interval);
        }
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        leadership is null ? CullAsync(stoppingToken) : leadership.WhileLeadingAsync(CullAsync, stoppingToken);

    private async Task CullAsync(CancellationToken stoppingToken)
    {
        if (_timer is not { } timer)
            return;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var report = await culler.CheckAsync(stoppingToken);
                    if (report.Stopped + report.Destroyed > 0)
                        LogChecked(logger, report.Running, report.Stopped, report.Destroyed);
                }
                catch (Exception e) when (e is EngineException or System.Data.Common.DbException)
                {
                    LogCheckFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 2074, Level = LogLevel.Information, Message = "Idle culling on: stop after {IdleStopAfter} idle (CPU below {CpuPercent}% of one core, no terminal), destroy after {StoppedDestroyAfter} stopped; checking every {Interval}")]
    private static partial void LogOn(ILogger logger, string idleStopAfter, double cpuPercent, string stoppedDestroyAfter, string interval);

    [LoggerMessage(EventId = 2075, Level = LogLevel.Information, Message = "Idle culling: {Running} running, {Stopped} stopped as idle, {Destroyed} destroyed after staying stopped")]
    private static partial void LogChecked(ILogger logger, int running, int stopped, int destroyed);

    [LoggerMessage(EventId = 2076, Level = LogLevel.Warning, Message = "Idle culling check failed: {Reason}; the next check tries again")]
    private static partial void LogCheckFailed(ILogger logger, string reason);
}
