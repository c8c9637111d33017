using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NSec.Cryptography;

namespace Dockhand.Containers.Tests.Infrastructure;

/// <summary>
/// A real <c>dockhand run</c> (bot, web and reconciler) as a child process on a harness's database, serving HTTP
/// interactions on a free loopback port. Its output is kept so tests can wait for what it logged; the reconciler logs
/// each event-driven pass at Debug, which is turned on here.
/// </summary>
public sealed class BotProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private BotProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseUrl { get; }

    public string Output => string.Join('\n', _lines);

    /// <summary>Starts the bot on the harness's settings and waits until <c>GET /health</c> answers 200.</summary>
    public static Task<BotProcess> StartAsync(Harness harness, IReadOnlyDictionary<string, string?>? extra = null)
        => StartAsync(harness.Directory, harness.Settings(), extra);

    /// <summary>
    /// As above, on given settings in <paramref name="directory"/> (a harness of another backend: the Swarm tests); with
    /// <paramref name="terminalLinksHere"/> its TERMINAL_SERVICE_URL is its own address, so links it checks are its own.
    /// </summary>
    public static async Task<BotProcess> StartAsync(string directory, Dictionary<string, string?> settings, IReadOnlyDictionary<string, string?>? extra = null, bool terminalLinksHere = false)
    {
        var url = new Uri($"http://127.0.0.1:{FreePort()}");
        using var key = Key.Create(SignatureAlgorithm.Ed25519);
        settings["DISCORD_PUBLIC_KEY"] = Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
        settings["DISCORD_TOKEN"] = null;
        settings["LISTEN_URLS"] = url.ToString().TrimEnd('/');
        if (terminalLinksHere)
            settings["TERMINAL_SERVICE_URL"] = url.ToString().TrimEnd('/');
        // Never the default metrics port: bots run side by side in the tests.
        settings["METRICS_URLS"] = "http://127.0.0.1:0";
        settings["Logging__LogLevel__Dockhand.Containers.Reconciler"] = "Debug";
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
            settings[k] = v;
        var process = DockhandProcess.Start(directory, settings, "run");
        var bot = new BotProcess(process, url);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartLimit)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"dockhand run exited with {process.ExitCode}: {bot.Output}");
            try
            {
                using var response = await http.GetAsync(new Uri(url, "/health"), TestContext.Current.CancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                    return bot;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        await bot.DisposeAsync();
        throw new TimeoutException($"dockhand run did not answer /health within {StartLimit.TotalSeconds} s: {bot.Output}");
    }

    /// <summary>Waits (bounded) until a line the bot printed contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan? limit = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!_lines.Any(line => line.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"dockhand run exited with {_process.ExitCode} while waiting for '{text}': {Output}");
            if (deadline.Elapsed > (limit ?? TimeSpan.FromSeconds(20)))
                throw new TimeoutException($"dockhand run did not print '{text}': {Output}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Sends SIGTERM, as a service manager does, and waits (at most 20 s) for the exit code; null when it did not exit in
    /// time (it is then killed).
    /// </summary>
    public async Task<int?> TerminateAsync()
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await term.WaitForExitAsync(CancellationToken.None);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                return null;
            }
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await TerminateAsync();
        _process.Dispose();
    }
}
