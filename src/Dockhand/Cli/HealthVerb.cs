using System.CommandLine;
using System.Net;

namespace Dockhand.Cli;

/// <summary>
/// <c>dockhand health</c>: asks a running <c>dockhand run</c> for <c>GET /health</c> on the first of its LISTEN_URLS, so a
/// container's HEALTHCHECK needs no curl or wget in the image. Exit 0 on 200, 1 on any other answer (503: engine or
/// database down), 2 when nothing answers.
/// </summary>
internal static class HealthVerb
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    public static Command Build(CliContext context)
    {
        var command = new Command("health", "Ask the running bot for GET /health on LISTEN_URLS (for a container HEALTHCHECK): exit 0 when it answers 200.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var json = parse.GetValue(CliContext.JsonOption);
            var url = HealthUrl(context.LoadConfiguration()[DockhandHost.ListenUrlsKey]);
            if (url is null)
                return await context.FailAsync(json, "invalid-setting", $"configuration: {DockhandHost.ListenUrlsKey} holds no http URL to ask", ExitCodes.UsageOrUnavailable);
            using var http = new HttpClient { Timeout = Limit };
            try
            {
                using var response = await http.GetAsync(url, cancellationToken);
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                await context.Output.WriteLineAsync(body);
                return response.StatusCode == HttpStatusCode.OK ? ExitCodes.Success : ExitCodes.Refused;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return await context.FailAsync(json, "unreachable", $"nothing answered at {url} ({e.Message}); is dockhand run running with these LISTEN_URLS?", ExitCodes.UsageOrUnavailable);
            }
        });
        return command;
    }

    /// <summary>The /health URL of the first http LISTEN_URLS entry, with a wildcard host (0.0.0.0, [::], +, *) asked on loopback.</summary>
    internal static Uri? HealthUrl(string? listenUrls)
    {
        var first = (listenUrls is { Length: > 0 } urls ? urls : DockhandHost.DefaultListenUrls)
            .Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase));
        if (first is null)
            return null;
        var wildcard = System.Text.RegularExpressions.Regex.Match(first, @"^http://(0\.0\.0\.0|\[::\]|\+|\*)(:\d+)?", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        if (wildcard.Success)
            first = "http://127.0.0.1" + wildcard.Groups[2].Value + first[wildcard.Length..];
        return Uri.TryCreate(first.TrimEnd('/') + "/health", UriKind.Absolute, out var url) ? url : null;
    }
}
