using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Discord.Testing.Contract;
using Dockhand.Discord.Testing.Gateway;
using Dockhand.Discord.Testing.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Dockhand.Tests.Bot.Support;

/// <summary>An interaction the test sent: its id and token.</summary>
internal sealed record SentInteraction(ulong Id, string Token);

/// <summary>
/// The whole Dockhand host (DockhandHost.Build, as `dockhand run` builds it) on 127.0.0.1:0 with a loopback Discord REST
/// server, a loopback gateway, a real Ed25519 signer for POST /interactions, a temporary SQLite file and the real
/// engine. Every container it makes carries dockhand.test=&lt;this host's run id&gt; and is removed by that label on dispose.
/// </summary>
internal sealed class BotHost : IAsyncDisposable
{
    public const string Image = "dockhand-test/busybox:1";
    public const ulong GuildId = 1_000_000_000_000_000_777;
    public const ulong Admin = 2_000_000_000_000_000_001;
    public const ulong Admin2 = 2_000_000_000_000_000_002;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);

    private static long s_nextUser = 3_000_000_000_000_000_000 + Random.Shared.Next(0, 1_000_000) * 1000L;

    private readonly string _directory;

    private BotHost(LoopbackDiscordRestServer rest, LoopbackDiscordGateway? gateway, InteractionSigner signer, WebApplication app, string runId, string directory, IDockerClient docker)
    {
        Rest = rest;
        Gateway = gateway;
        Signer = signer;
        App = app;
        RunId = runId;
        _directory = directory;
        Docker = docker;
        BaseAddress = new Uri(app.Urls.First());
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = Timeout };
    }

    public LoopbackDiscordRestServer Rest { get; }
    public LoopbackDiscordGateway? Gateway { get; }
    public InteractionSigner Signer { get; }
    public WebApplication App { get; }
    public string RunId { get; }
    public IDockerClient Docker { get; }
    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    /// <summary>Everything the host logged.</summary>
    public FakeLogCollector Logs { get; private init; } = new();

    /// <summary>The host's log, one line per record: time, level, category[event id], message and any exception.</summary>
    public IReadOnlyList<string> LogLines => [.. Logs.GetSnapshot().Select(r =>
        $"{r.Timestamp:HH:mm:ss.fff} {r.Level} {r.Category}[{r.Id.Id}] {r.Message}{(r.Exception is null ? "" : " — " + r.Exception.GetType().Name + ": " + r.Exception.Message)}")];

    /// <summary>For a failing test's message: the last 60 warnings and errors, plus lower lines that mention <paramref name="mention"/>.</summary>
    public string LogDump(string? mention = null) => string.Join('\n', LogLines
        .Where(line => !line.Contains(" Debug ", StringComparison.Ordinal) && !line.Contains(" Information ", StringComparison.Ordinal) && !line.Contains(" Trace ", StringComparison.Ordinal)
            || mention is not null && line.Contains(mention, StringComparison.Ordinal))
        .TakeLast(60));
    public string DatabasePath => Path.Combine(_directory, "containers.db");

    public static ulong NewUser() => (ulong)Interlocked.Increment(ref s_nextUser);

    /// <param name="prepareDiscord">Runs on the loopback Discord before the host starts (e.g. commands Discord already holds).</param>
    public static async Task<BotHost> StartAsync(bool withGateway = true, IDictionary<string, string?>? extra = null,
        Action<LoopbackDiscordRestServer>? prepareDiscord = null, CancellationToken cancellationToken = default)
    {
        // Every engine request from the test side ends within Timeout (this client never streams).
        var docker = new DockerClientBuilder().WithEndpoint(new Uri(Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock")).WithTimeout(Timeout).Build();
        try
        {
            using var ping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await docker.System.PingAsync(ping.Token);
        }
        catch (Exception e)
        {
            docker.Dispose();
            throw new InvalidOperationException("No Docker engine answers on /var/run/docker.sock. Run scripts/engine.sh and scripts/test-images.sh (or .ci/run) first.", e);
        }

        var runId = "bot-" + Guid.NewGuid().ToString("N")[..12];
        var directory = Directory.CreateTempSubdirectory("dockhand-bot-").FullName;
        var rest = await LoopbackDiscordRestServer.StartAsync(cancellationToken: cancellationToken);
        prepareDiscord?.Invoke(rest);
        LoopbackDiscordGateway? gateway = null;
        if (withGateway)
        {
            gateway = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions { Token = rest.Token, ApplicationId = rest.ApplicationId.ToString(CultureInfo.InvariantCulture) });
            await gateway.StartAsync(cancellationToken);
            rest.GatewayUrl = gateway.Url;
        }
        var signer = new InteractionSigner();
        var settings = new Dictionary<string, string?>
        {
            ["DISCORD_PUBLIC_KEY"] = signer.PublicKeyHex,
            ["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri,
            ["DISCORD_GUILD_ID"] = GuildId.ToString(CultureInfo.InvariantCulture),
            ["AUTHORIZED_USERS"] = $"{Admin},{Admin2}",
            ["DATABASE_PATH"] = Path.Combine(directory, "containers.db"),
            ["DEFAULT_IMAGE"] = Image,
            ["CONTAINER_NETWORK"] = "none",
            ["CONTAINER_EXTRA_LABELS"] = "dockhand.test=" + runId,
            ["LISTEN_URLS"] = "http://127.0.0.1:0",
            // Never the default port: hosts run side by side in the tests.
            ["METRICS_URLS"] = "http://127.0.0.1:0",
            ["TERMINAL_SERVICE_URL"] = "https://dockhand.example.test",
        };
        if (withGateway)
            settings["DISCORD_TOKEN"] = rest.Token;
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
            settings[key] = value;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
#pragma warning disable CA2000 // The app's services own it (a factory registration) and dispose it with the app.
        var logs = new FakeLoggerProvider();
#pragma warning restore CA2000
        var app = DockhandHost.Build(configuration, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.Services.AddSingleton<ILoggerProvider>(_ => logs);
        });
        await DockhandHost.StartAsync(app, cancellationToken);
        var host = new BotHost(rest, gateway, signer, app, runId, directory, docker) { Logs = logs.Collector };
        // The loopback gateway announces a session only once its connection takes dispatches (READY already sent).
        if (gateway is not null)
            await gateway.WaitForSessionAsync(Timeout, cancellationToken);
        return host;
    }

    /// <summary>A slash command in the test guild from <paramref name="user"/>.</summary>
    public JsonObject Slash(ulong user, string command, params TestOption[] options) =>
        InteractionPayloads.SlashCommand(Rest.ApplicationId, NewToken(), user, command, options, GuildId);

    /// <summary>A button press; <paramref name="on"/> names the interaction whose reply carries the button (Discord puts that message in the payload).</summary>
    public JsonObject Button(ulong user, string customId, SentInteraction? on = null)
    {
        var payload = InteractionPayloads.Button(Rest.ApplicationId, NewToken(), user, customId, GuildId);
        if (on is not null && Rest.GetOriginal(on.Token) is { } message)
            payload["message"] = message;
        return payload;
    }

    public JsonObject Autocomplete(ulong user, string command, string option, string partial) =>
        InteractionPayloads.Autocomplete(Rest.ApplicationId, NewToken(), user, command, option, partial, GuildId);

    public static TestOption UserOption(ulong id, string name = "user") =>
        new(name, 6, JsonValue.Create(id.ToString(CultureInfo.InvariantCulture)), ResolvedUsername: "user" + id);

    public static TestOption StringOption(string name, string value) => new(name, 3, JsonValue.Create(value));

    public static TestOption BooleanOption(string name, bool value) => new(name, 5, JsonValue.Create(value));

    private static string NewToken() => "itok-" + Guid.NewGuid().ToString("N");

    public static SentInteraction Describe(JsonObject payload) =>
        new(ulong.Parse(payload["id"]!.GetValue<string>(), CultureInfo.InvariantCulture), payload["token"]!.GetValue<string>());

    /// <summary>Delivers the interaction over the gateway (INTERACTION_CREATE).</summary>
    public Task<SentInteraction> SendAsync(JsonObject payload, CancellationToken cancellationToken = default) => SendAsync(payload, late: TimeSpan.Zero, cancellationToken);

    /// <summary>Dispatches an interaction Discord sent <paramref name="late"/> ago (its id's timestamp says so too), as a gateway's backlog delivers it.</summary>
    public async Task<SentInteraction> SendAsync(JsonObject payload, TimeSpan late, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (late > TimeSpan.Zero)
            payload["id"] = InteractionPayloads.NextInteractionId(Rest.Time.GetUtcNow() - late).ToString(CultureInfo.InvariantCulture);
        Rest.ObserveInteraction(payload, late > TimeSpan.Zero ? Rest.Time.GetUtcNow() - late : null);
        await (Gateway ?? throw new InvalidOperationException("This host has no gateway.")).DispatchAsync("INTERACTION_CREATE", payload.ToJsonString(), cancellationToken);
        return Describe(payload);
    }

    /// <summary>
    /// Delivers the interaction to POST /interactions with a real signature, as Discord does, and hands the HTTP
    /// response to the loopback REST server as the interaction's callback. Returns the response body.
    /// </summary>
    public async Task<(int Status, string Body)> PostAsync(JsonObject payload, CancellationToken cancellationToken = default)
    {
        Rest.ObserveInteraction(payload);
        using var request = Signer.CreateRequest(new Uri(BaseAddress, "/interactions"), payload.ToJsonString(), DateTimeOffset.UtcNow);
        using var response = await Http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.IsSuccessStatusCode && payload["type"]!.GetValue<int>() != 1)
        {
            OpenApiContract.AssertValid("/interactions/{interaction_id}/{interaction_token}/callback", "post", body);
            var sent = Describe(payload);
            Rest.AcceptInteractionResponse(sent.Id, sent.Token, body);
        }
        return ((int)response.StatusCode, body);
    }

    public Task<JsonObject> WaitForCallbackAsync(SentInteraction sent, CancellationToken cancellationToken = default) =>
        Rest.WaitForCallbackAsync(sent.Id, Timeout, cancellationToken);

    /// <summary>Waits until @original satisfies <paramref name="done"/>.</summary>
    public async Task<JsonObject> WaitForOriginalAsync(SentInteraction sent, Func<JsonObject, bool> done, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + Timeout;
        JsonObject? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = Rest.GetOriginal(sent.Token);
            if (last is not null && done(last))
                return last;
            await Task.Delay(20, cancellationToken);
        }
        throw new TimeoutException($"@original never reached the expected state; last: {last?.ToJsonString() ?? "(none)"}; callback: {Rest.GetCallback(sent.Id)?.ToJsonString() ?? "(none)"}; requests: {string.Join(" | ", Rest.Requests.Where(r => r.Path.Contains(sent.Token, StringComparison.Ordinal)).Select(r => r.Method + " " + r.Status))}; gateway received {Gateway?.Received.Count}; host log:\n{LogDump(sent.Id.ToString(CultureInfo.InvariantCulture))}");
    }

    /// <summary>Waits until the deferred reply was edited (the "thinking" flag 128 is gone).</summary>
    public Task<JsonObject> WaitForEditAsync(SentInteraction sent, CancellationToken cancellationToken = default) =>
        WaitForOriginalAsync(sent, m => (Flags(m) & 128) == 0 && !Content(m).StartsWith("Pulling", StringComparison.Ordinal), cancellationToken);

    public async Task<JsonObject> WaitForFollowUpAsync(SentInteraction sent, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Rest.GetFollowUps(sent.Token) is [var first, ..])
                return first;
            await Task.Delay(20, cancellationToken);
        }
        throw new TimeoutException("No follow-up message arrived; host log:\n" + LogDump());
    }

    public static int Flags(JsonObject message) => message["flags"]?.GetValue<int>() ?? 0;

    public static string Content(JsonObject message) => message["content"]?.GetValue<string>() ?? "";

    /// <summary>All text of a message (content, embed titles, descriptions, fields, footers).</summary>
    public static string Text(JsonObject message)
    {
        var text = new StringBuilder(Content(message));
        foreach (var embed in (message["embeds"] as JsonArray ?? []).OfType<JsonObject>())
        {
            text.Append('\n').Append(embed["title"]?.GetValue<string>()).Append('\n').Append(embed["description"]?.GetValue<string>());
            foreach (var field in (embed["fields"] as JsonArray ?? []).OfType<JsonObject>())
                text.Append('\n').Append(field["name"]?.GetValue<string>()).Append(": ").Append(field["value"]?.GetValue<string>());
            text.Append('\n').Append(embed["footer"]?["text"]?.GetValue<string>());
        }
        return text.ToString();
    }

    /// <summary>Every request body Dockhand sent to the loopback Discord server, validated against openapi.json.</summary>
    public void AssertSentBodiesMatchOpenApi(params SentInteraction[] only)
    {
        foreach (var request in Rest.Requests.Where(r => only.Length == 0 || only.Any(s => r.Path.Contains(s.Token, StringComparison.Ordinal))))
        {
            if (OpenApiContract.TryGetOperation(request.Route, out var operation) && request.Body.Length > 0)
                OpenApiContract.AssertValid(operation.Path, operation.Method, request.Body);
        }
    }

    /// <summary>The containers of this run, from the engine.</summary>
    public async Task<IList<ContainerListResponse>> ContainersAsync(string? owner = null, CancellationToken cancellationToken = default)
    {
        var labels = new Dictionary<string, bool> { ["dockhand.test=" + RunId] = true };
        if (owner is not null)
            labels["dockhand.owner=" + owner] = true;
        return await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels },
        }, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using (var stop = new CancellationTokenSource(Timeout))
                await App.StopAsync(stop.Token);
            await App.DisposeAsync();
        }
        finally
        {
            foreach (var container in await ContainersAsync())
            {
                try
                {
                    await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
                }
                catch (DockerContainerNotFoundException)
                {
                }
            }
            // Home volumes carry the run's label too, and outlive their containers.
            var volumes = await Docker.Volumes.ListAsync(new VolumesListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["dockhand.test=" + RunId] = true } },
            });
            foreach (var volume in volumes.Volumes ?? [])
                await Docker.Volumes.RemoveAsync(volume.Name, force: true);
            Docker.Dispose();
            Http.Dispose();
            if (Gateway is not null)
                await Gateway.DisposeAsync();
            await Rest.DisposeAsync();
            Signer.Dispose();
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>One host shared by the tests of the "bot" collection (they run one after another).</summary>
public sealed class BotFixture : IAsyncLifetime
{
    internal BotHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Host = await BotHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class BotCollection : ICollectionFixture<BotFixture>
{
    public const string Name = "bot";
}
