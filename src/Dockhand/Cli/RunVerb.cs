using System.CommandLine;
using Dockhand.Containers;
using Dockhand.Discord;
using System.Data.Common;
using Dockhand.Observability;
using Microsoft.Extensions.Options;

namespace Dockhand.Cli;

/// <summary>
/// <c>dockhand run</c> (also the default with no verb): the bot and the web terminal in one host, until SIGTERM or Ctrl-C.
/// </summary>
internal static class RunVerb
{
    public const string NoTransportMessage =
        "nothing to connect to Discord with: set DISCORD_TOKEN (gateway) or DISCORD_PUBLIC_KEY (HTTP interactions endpoint), or both, in .env or the environment";

    public static Command Build(CliContext context)
    {
        var command = new Command("run", "Run the bot and the web terminal (the default). Stops gracefully on SIGTERM or Ctrl-C.");
        command.SetAction((parse, cancellationToken) => RunAsync(context, parse.GetValue(CliContext.JsonOption), cancellationToken));
        return command;
    }

    private static Exception? FailedService(WebApplication app) =>
        app.Services.GetServices<IHostedService>().OfType<BackgroundService>()
            .Select(s => s.ExecuteTask)
            .FirstOrDefault(t => t is { IsFaulted: true })?.Exception?.InnerException;

    public static async Task<int> RunAsync(CliContext context, bool json, CancellationToken cancellationToken)
    {
        IConfiguration configuration;
        try
        {
            configuration = context.LoadConfiguration();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            return await context.FailAsync(json, "invalid-setting", $"configuration: {e.Message.ReplaceLineEndings(" ")}", ExitCodes.UsageOrUnavailable);
        }
        if (!DockhandHost.HasToken(configuration) && !DockhandHost.HasPublicKey(configuration))
            return await context.FailAsync(json, "usage", NoTransportMessage, ExitCodes.UsageOrUnavailable);

        WebApplication app;
        try
        {
            app = DockhandHost.Build(configuration);
        }
        catch (InvalidSettingException e)
        {
            return await context.FailAsync(json, "invalid-setting", $"configuration: {e.Message}", ExitCodes.UsageOrUnavailable);
        }
        catch (Exception e) when (CliContext.SettingFailures(e) is { Count: > 0 } failures)
        {
            return await context.FailAsync(json, "invalid-setting", $"configuration: {string.Join("; ", failures)}", ExitCodes.UsageOrUnavailable);
        }

        Task<int> StoppedAsync(Exception failure) =>
            context.FailAsync(json, "stopped", $"stopped: {failure.Message.ReplaceLineEndings(" ")}", ExitCodes.UsageOrUnavailable);

        await using (app)
        {
            try
            {
                await DockhandHost.StartAsync(app, cancellationToken);
                await context.Error.WriteLineAsync($"dockhand: running on {string.Join(", ", app.Urls)}" +
                    $"{(DockhandHost.HasToken(configuration) ? "; gateway on" : "")}{(DockhandHost.HasPublicKey(configuration) ? "; POST /interactions on" : "")}" +
                    $"{(app.Services.GetService<MetricsServer>() is { } metrics ? $"; metrics on {string.Join(", ", metrics.Urls)}" : "")}. Ctrl-C stops.");
                await app.WaitForShutdownAsync(cancellationToken);
                // A background service that failed (e.g. the gateway on an invalid token) stops the host: say why, exit 2.
                if (FailedService(app) is { } failure)
                    return await StoppedAsync(failure);
                return ExitCodes.Success;
            }
            catch (Exception e) when (CliContext.SettingFailures(e) is { Count: > 0 } failures)
            {
                return await context.FailAsync(json, "invalid-setting", $"configuration: {string.Join("; ", failures)}", ExitCodes.UsageOrUnavailable);
            }
            catch (InvalidSettingException e)
            {
                // A setting only the engine can judge (CONTAINER_DISK_LIMIT), refused before the host starts.
                return await context.FailAsync(json, "invalid-setting", $"configuration: {e.Message}", ExitCodes.UsageOrUnavailable);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Success;
            }
            catch (OperationCanceledException) when (FailedService(app) is { } failure)
            {
                // The service failed while the host was still starting (Discord refused the token before Kestrel had
                // bound its port), so the host cancelled its own start: the same sentence as a failure after it.
                return await StoppedAsync(failure);
            }
            catch (Exception e) when (e is DbException or UnauthorizedAccessException)
            {
                return await context.FailAsync(json, "database-unavailable", $"the database cannot be used ({e.Message.ReplaceLineEndings(" ")}); check DATABASE_PATH or DATABASE_URL", ExitCodes.UsageOrUnavailable);
            }
            catch (EngineUnavailableException e)
            {
                return await context.FailAsync(json, "engine-unavailable", $"the Docker engine cannot be reached ({e.Message}); check DOCKER_HOST or run scripts/engine.sh", ExitCodes.UsageOrUnavailable);
            }
            catch (IOException e)
            {
                return await context.FailAsync(json, "listen-failed", $"cannot listen ({e.Message.ReplaceLineEndings(" ")}); check LISTEN_URLS ({configuration[DockhandHost.ListenUrlsKey] ?? DockhandHost.DefaultListenUrls}) and METRICS_URLS ({configuration[MetricsServer.UrlsKey] ?? MetricsServer.DefaultUrls})", ExitCodes.UsageOrUnavailable);
            }
        }
    }
}
