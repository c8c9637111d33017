using System.Collections.Concurrent;
using System.Text.Json;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.Rest;
using Dockhand.Discord.Testing.Gateway;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dockhand.Discord.Tests.Gateway;

internal sealed class RecordingDispatchHandler : IGatewayDispatchHandler
{
    private readonly ConcurrentQueue<(string Name, string Json)> _events = new();

    public IReadOnlyList<(string Name, string Json)> Events => [.. _events];

    public IReadOnlyList<string> Names => [.. _events.Select(e => e.Name)];

    public ValueTask HandleDispatchAsync(string eventName, JsonElement data, CancellationToken cancellationToken)
    {
        _events.Enqueue((eventName, data.GetRawText()));
        return ValueTask.CompletedTask;
    }
}

internal sealed class StaticBotInfoSource(Func<GatewayBotInfo> info) : IGatewayBotInfoSource
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public Task<GatewayBotInfo> GetGatewayBotInfoAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        return Task.FromResult(info());
    }
}

/// <summary>A <see cref="DiscordGatewayClient"/> on a fake clock (<see cref="TimerRecordingTimeProvider"/>) against a real
/// loopback gateway. The clock never moves by itself: a test waits until the timer it means to fire is armed
/// (<see cref="AdvanceWhenArmedAsync"/>), then moves it.</summary>
internal sealed class GatewayHarness : IAsyncDisposable
{
    public const string Token = "harness-token";

    private readonly CancellationTokenSource _cts;

    private GatewayHarness(TimerRecordingTimeProvider time, LoopbackDiscordGateway server, DiscordGatewayClient client, RecordingDispatchHandler handler, CancellationTokenSource cts, DiscordApplicationIdSource applicationIds)
    {
        ApplicationIds = applicationIds;
        Time = time;
        Server = server;
        Client = client;
        Handler = handler;
        _cts = cts;
    }

    public TimerRecordingTimeProvider Time { get; }

    public LoopbackDiscordGateway Server { get; }

    public DiscordGatewayClient Client { get; }

    public RecordingDispatchHandler Handler { get; }

    /// <summary>Where the client puts the application id READY gives (no REST call is made while it is known).</summary>
    public DiscordApplicationIdSource ApplicationIds { get; }

    public Task Run { get; private set; } = Task.CompletedTask;

    public static async Task<GatewayHarness> StartAsync(
        int heartbeatIntervalMs = 41_250,
        int intents = 0,
        string token = Token,
        int maxConcurrency = 1,
        int remainingSessionStarts = 1000,
        TimeSpan? resetAfter = null,
        bool refuseUpgrades = false,
        bool run = true,
        double random = 0.5,
        int allowedPrivilegedIntents = 0)
    {
        var time = new TimerRecordingTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var server = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions
        {
            Token = Token,
            HeartbeatIntervalMs = heartbeatIntervalMs,
            TimeProvider = time,
            MaxConcurrency = maxConcurrency,
            AllowedPrivilegedIntents = allowedPrivilegedIntents,
        })
        {
            RefuseUpgrades = refuseUpgrades,
        };
        await server.StartAsync(TestContext.Current.CancellationToken);

        var handler = new RecordingDispatchHandler();
        var options = Microsoft.Extensions.Options.Options.Create(new DiscordOptions { Token = token, Intents = intents });
        var botInfo = new StaticBotInfoSource(() => new GatewayBotInfo(server.Url, 1, maxConcurrency, remainingSessionStarts, resetAfter ?? TimeSpan.FromHours(1)));
#pragma warning disable CA2000 // Lives as long as the gateway client it feeds, which cannot hand it back; freed with the test process.
        var applicationIds = new DiscordApplicationIdSource(
            new Dockhand.Discord.Rest.DiscordRestClient(new HttpClient(), options, time, NullLogger<Dockhand.Discord.Rest.DiscordRestClient>.Instance), options);
#pragma warning restore CA2000
        var client = new DiscordGatewayClient(options, handler, NullLogger.Instance, time, botInfo, new GatewayClientSettings { Random = () => random }, applicationIds);
        var harness = new GatewayHarness(time, server, client, handler, CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), applicationIds);
        if (run)
            harness.Run = client.RunAsync(harness._cts.Token);
        return harness;
    }

    /// <summary>Waits (real time) until the handler has seen <paramref name="count"/> events named <paramref name="name"/>.</summary>
    public Task WaitForEventAsync(string name, int count = 1) =>
        WaitUntilAsync(() => Handler.Names.Count(n => n == name) >= count);

    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        await Eventually.TrueAsync(() => condition() || Run.IsFaulted, "the gateway condition", TestContext.Current.CancellationToken, timeout);
        if (Run.IsFaulted && !condition())
            await Run; // surface the client's exception
    }

    /// <summary>Moves the fake clock. Use it where no timer has to fire; otherwise <see cref="AdvanceWhenArmedAsync"/>.</summary>
    public Task AdvanceAsync(TimeSpan by)
    {
        Time.Advance(by);
        return Task.CompletedTask;
    }

    /// <summary>Waits (real time, bounded) until a timer due exactly <paramref name="dueIn"/> from now is armed (the
    /// client's backoff, identify wait, heartbeat…), then moves the clock by <paramref name="by"/> (default: to that
    /// timer). A move made before the timer exists would be lost.</summary>
    public async Task AdvanceWhenArmedAsync(TimeSpan dueIn, TimeSpan? by = null)
    {
        await Time.WaitForTimerAsync(dueIn);
        Time.Advance(by ?? dueIn);
    }

    /// <summary>
    /// Waits until the client has read the server's <paramref name="count"/>th heartbeat ACK. Needed before the
    /// clock jumps to the next beat: a real interval leaves the client ample time to read the ACK, a fake jump does
    /// not, and a beat due while the ACK is unread is a zombie connection. The client reads frames in order, so once
    /// it has handled a dispatch the server sent after that ACK, it has read the ACK.
    /// </summary>
    public async Task WaitHeartbeatAckReadAsync(int count)
    {
        await Server.WaitUntilAsync(s => s.SentOp(11).Count >= count, cancellationToken: TestContext.Current.CancellationToken);
        var marks = Handler.Names.Count(n => n == AckMark);
        await Server.DispatchAsync(AckMark, "{}", TestContext.Current.CancellationToken);
        await WaitForEventAsync(AckMark, marks + 1);
    }

    private const string AckMark = "HARNESS_AFTER_ACK";

    /// <summary>Starts and waits for READY.</summary>
    public async Task WaitReadyAsync()
    {
        await WaitForEventAsync("READY");
        await WaitUntilAsync(() => Client.IsConnected);
        // The server announces the session just after READY has gone out, so the client can be ready first; a dispatch
        // before the announcement has no session to go to (seen under scripts/starve.sh).
        await WaitUntilAsync(() => Server.CurrentSessionId is { } id && id == Client.SessionId);
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            await Run.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is OperationCanceledException or GatewayFatalException or TimeoutException)
        {
        }

        await Server.DisposeAsync();
        _cts.Dispose();
    }
}
