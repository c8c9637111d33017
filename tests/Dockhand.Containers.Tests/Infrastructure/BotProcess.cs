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
    private static readonly TimeSpan OutputLimit = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan TerminateLimit = TimeSpan.FromSeconds(20);
    private readonly DockhandChild _child;

    private BotProcess(DockhandChild child, Uri baseUrl)
    {
        _child = child;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    public string Output => _child.Output;

    /// <summary>Starts the bot on the harness's settings and waits until <c>GET /health</c> answers 200.</summary>
    public static Task<BotProcess> StartAsync(Harness harness, IReadOnlyDictionary<string, string?>? extra = null)
        => StartAsync(harness.Directory, harness.Settings(), extra);

    /// <summary>
    /// As above, on given settings in <paramref name="directory"/> (a harness of another backend: the Swarm tests); with
    /// <paramref name="terminalLinksHere"/> its TERMINAL_SERVICE_URL is its own address, so links it checks are its own.
    /// </summary>
    public static async Task<BotProcess> StartAsync(string directory, Dictionary<string, string?> settings, IReadOnlyDictionary<string, string?>? extra = null, bool terminalLinksHere = false)
    {
        var url = new Uri($"http://127.0.0.1:{DockhandChild.FreeLoopbackPort()}");
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
        var bot = new BotProcess(DockhandChild.Start(directory, settings, executable: null, "run"), url);
        try
        {
            await bot._child.WaitHealthyAsync(url, StartLimit);
            return bot;
        }
        catch
        {
            await bot.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits (bounded, 20 s unless told) until a line the bot printed contains <paramref name="text"/>.</summary>
    public Task WaitForOutputAsync(string text, TimeSpan? limit = null) => _child.WaitForOutputAsync(text, limit ?? OutputLimit);

    /// <summary>
    /// Sends SIGTERM, as a service manager does, and waits (at most 20 s) for the exit code; null when it did not exit in
    /// time (it is then killed).
    /// </summary>
    public Task<int?> TerminateAsync() => _child.TerminateAsync(TerminateLimit);

    public async ValueTask DisposeAsync()
    {
        await TerminateAsync();
        await _child.DisposeAsync();
    }
}
