using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using Dockhand.Benchmarks.Support;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Terminal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Dockhand.Benchmarks;

/// <summary>One line of the results table, with its raw figures.</summary>
internal sealed record Figure(string Id, string What, string Dockhand, string Anchor, string Ratio, string Target, bool? Met, JsonObject Data);

/// <summary>P1-P7. Each runs side by side with its anchor where there is one, alternating, and reports medians and ratios.</summary>
internal sealed class Benchmarks(BenchEnvironment env, bool quick, Action<string> log)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly List<(ulong Owner, string ContainerId)> _botContainers = [];

    private static string Ms(double value) => value.ToString(value < 10 ? "0.00" : "0.0", Inv) + " ms";

    private static string F(double value, string format = "0.00") => value.ToString(format, Inv);

    private static JsonArray Array(IEnumerable<double> values) => new([.. values.Select(v => (JsonNode)Math.Round(v, 3))]);

    // ---------------------------------------------------------------- P6: cold start and idle RSS
    public async Task<Figure> ColdStartAsync(CancellationToken ct)
    {
        var runs = quick ? 2 : 5;
        var ready = new List<double>();
        var rss = new List<double>();
        var anon = new List<double>();
        var files = new List<double>();
        var listening = new List<double>();
        var pss = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            await using var server = DockhandServer.Start(env.Directory, env.Settings(Path.Combine(env.Directory, $"cold-{i}.db")));
            ready.Add((await server.WaitReadyAsync(watch, TimeSpan.FromSeconds(90), ct)).TotalMilliseconds);
            listening.Add(server.ListeningAt?.TotalMilliseconds ?? double.NaN);
            await Task.Delay(TimeSpan.FromSeconds(quick ? 2 : 5), ct);
            rss.Add(server.ResidentMiB());
            var (anonymous, file) = server.ResidentBreakdownMiB();
            anon.Add(anonymous);
            pss.Add(server.ProportionalMiB());
            files.Add(file);
            log($"P6 run {i + 1}/{runs}: ready {ready[^1]:0} ms (listening at {listening[^1]:0} ms), idle RSS {rss[^1]:0.0} MiB (anonymous {anonymous:0.0}, file-backed {file:0.0}; PSS {pss[^1]:0.0})");
        }
        var readyMedian = Stats.Median(ready);
        var rssMedian = Stats.Median(rss);
        return new Figure("P6", "cold start to ready (`dockhand run` until /health is 200); idle RSS after 5 s",
            $"{Ms(readyMedian)}; {F(rssMedian, "0.0")} MiB", "—", "—", "≤ 1 s and ≤ 80 MB",
            readyMedian <= 1000 && rssMedian * 1.048576 <= 80,
            new JsonObject { ["ready_ms"] = Array(ready), ["idle_rss_mib"] = Array(rss), ["ready_median_ms"] = readyMedian, ["idle_rss_median_mib"] = rssMedian,
                ["idle_rss_anonymous_median_mib"] = Stats.Median(anon), ["idle_rss_file_backed_median_mib"] = Stats.Median(files),
                ["idle_pss_median_mib"] = Stats.Median(pss), ["listening_ms"] = Array(listening), ["listening_median_ms"] = Stats.Median(listening),
                ["note"] = "listening = the process printed 'dockhand: running on' (host built, database migrated, Kestrel bound); ready = the first GET /health answered 200 (engine ping and version negotiation, database check). RSS = anonymous + file-backed (shared framework and native libraries mapped from disk) + shmem (the JIT's double-mapped code)",
            });
    }

    // ---------------------------------------------------------------- P5: HTTP interactions endpoint
    public async Task<Figure> InteractionsEndpointAsync(CancellationToken ct)
    {
        var server = env.Server!;
        var endpoint = new Uri(server.BaseAddress, "/interactions");
        var duration = TimeSpan.FromSeconds(quick ? 2 : 5);
        // Pre-signed requests (signing is Discord's work, not Dockhand's): a stranger's /create, refused at once (type 4).
        var count = quick ? 8_000 : 30_000;
        var signed = new (byte[] Body, string Timestamp, string Signature)[count];
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(Inv);
        Parallel.For(0, count, i =>
        {
            var body = Encoding.UTF8.GetBytes(env.SlashCommand(BenchEnvironment.Stranger, "create", $"p5-{i}",
                new TestOption("user", 6, BenchEnvironment.Stranger.ToString(Inv), ResolvedUsername: "stranger"),
                new TestOption("container_name", 3, "nope")).ToJsonString());
            signed[i] = (body, timestamp, env.Signer.Sign(timestamp, body));
        });
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) });
        var next = -1;

        async Task<bool> SendAsync(CancellationToken token)
        {
            var (body, ts, signature) = signed[Interlocked.Increment(ref next) % count];
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("X-Signature-Ed25519", signature);
            request.Headers.TryAddWithoutValidation("X-Signature-Timestamp", ts);
            using var response = await http.SendAsync(request, token);
            var text = await response.Content.ReadAsStringAsync(token);
            return response.IsSuccessStatusCode && text.Contains("\"type\":4", StringComparison.Ordinal);
        }

        // Warm-up, then a forged signature must be refused.
        for (var i = 0; i < 200; i++)
            await SendAsync(ct);
        using (var forged = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(signed[0].Body) })
        {
            forged.Headers.TryAddWithoutValidation("X-Signature-Ed25519", new string('0', 128));
            forged.Headers.TryAddWithoutValidation("X-Signature-Timestamp", timestamp);
            using var refused = await http.SendAsync(forged, ct);
            if ((int)refused.StatusCode != 401)
                throw new InvalidOperationException($"a forged signature got {(int)refused.StatusCode}");
        }

        // Closed loop: as many as 32 clients can get acknowledged.
        var acknowledged = 0;
        var failed = 0;
        var closed = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            while (closed.Elapsed < duration)
            {
                if (await SendAsync(ct))
                    Interlocked.Increment(ref acknowledged);
                else
                    Interlocked.Increment(ref failed);
            }
        }));
        var perSecond = acknowledged / closed.Elapsed.TotalSeconds;
        log($"P5 closed loop: {perSecond:0} acknowledged/s ({failed} failed)");

        // Open loop at 500/s: latency from the scheduled send time (no coordinated omission).
        const int rate = 500;
        var total = (int)(rate * duration.TotalSeconds);
        var latencies = new ConcurrentBag<double>();
        var openFailed = 0;
        var open = Stopwatch.StartNew();
        var inFlight = new List<Task>(total);
        for (var k = 0; k < total; k++)
        {
            var scheduled = TimeSpan.FromSeconds((double)k / rate);
            var ahead = scheduled - open.Elapsed;
            if (ahead > TimeSpan.FromMilliseconds(1))
                await Task.Delay(ahead, ct);
            inFlight.Add(Task.Run(async () =>
            {
                var ok = await SendAsync(ct);
                latencies.Add((open.Elapsed - scheduled).TotalMilliseconds);
                if (!ok)
                    Interlocked.Increment(ref openFailed);
            }, ct));
        }
        await Task.WhenAll(inFlight);
        var p50 = Stats.Percentile(latencies, 50);
        var p99 = Stats.Percentile(latencies, 99);
        log($"P5 open loop 500/s: p50 {p50:0.00} ms, p99 {p99:0.00} ms ({openFailed} failed)");
        return new Figure("P5", "signed interactions acknowledged per second on POST /interactions (Ed25519 checked); latency at 500/s",
            $"{F(perSecond, "0")}/s; p50 {Ms(p50)}, p99 {Ms(p99)} at 500/s", "—", "—", "p99 ≤ 50 ms", p99 <= 50,
            new JsonObject
            {
                ["acknowledged_per_s"] = perSecond, ["closed_loop_clients"] = 32, ["closed_loop_failed"] = failed,
                ["open_loop_rate"] = rate, ["p50_ms"] = p50, ["p99_ms"] = p99, ["open_loop_failed"] = openFailed,
                ["interaction"] = "APPLICATION_COMMAND /create from a user not on the allowlist: answered type 4 in the HTTP body",
            });
    }

    // ---------------------------------------------------------------- P1: /create end to end vs docker run -d vs Engine API
    public async Task<Figure> CreateAsync(CancellationToken ct)
    {
        var n = quick ? 3 : 21;
        var dockhand = new List<double>();
        var deferred = new List<double>();
        var cli = new List<double>();
        var api = new List<double>();
        var service = new List<double>();
        var options = new ContainerOptions();
        // ContainerService in this process, with Dockhand's settings: splits P1 into engine, service and bot+Discord parts.
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDockhandContainers(options with
        {
            DatabasePath = Path.Combine(env.Directory, "service.db"),
            DefaultImage = BenchEnvironment.Image,
            ExtraLabels = new Dictionary<string, string> { [BenchEnvironment.LabelKey] = env.RunId, ["bench.part"] = "service" },
        });
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<ContainerStore>().MigrateAsync(ct);
        var containerService = provider.GetRequiredService<ContainerService>();
        for (var i = -1; i < n; i++) // i = -1 warms every path up and is not counted
        {
            var order = new[] { 0, 1, 2, 3 }.Select(k => (k + Math.Max(i, 0)) % 4);
            foreach (var kind in order)
            {
                var name = $"bench-{env.RunId}-{i + 1}-{kind}";
                // The anchors join the network the bot's containers get (its instance bridge, made at its first create).
                _anchorNetwork ??= await BotNetworkAsync(ct);
                switch (kind)
                {
                    case 0:
                        var (total, defer) = await BotCreateAsync(name, ct);
                        dockhand.Add(total);
                        deferred.Add(defer);
                        break;
                    case 3:
                        var serviceWatch = Stopwatch.StartNew();
                        var result = await containerService.CreateAsync(new CreateRequest(new OwnerId(BenchEnvironment.NextUser()), name, null, Dockhand.Containers.Actor.Cli("bench")), cancellationToken: ct);
                        if (result is not CreateResult.Created)
                            throw new InvalidOperationException($"ContainerService.CreateAsync: {result}");
                        service.Add(serviceWatch.Elapsed.TotalMilliseconds);
                        break;
                    case 1:
                        var run = await Shell.RunAsync("docker", DockerRunArguments(name, options), cancellationToken: ct);
                        if (run.ExitCode != 0)
                            throw new InvalidOperationException($"docker run failed: {run.Stderr}");
                        cli.Add(run.Elapsed.TotalMilliseconds);
                        break;
                    default:
                        var watch = Stopwatch.StartNew();
                        var created = await env.Docker.Containers.CreateContainerAsync(EngineParameters(name, options), ct);
                        await env.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct);
                        api.Add(watch.Elapsed.TotalMilliseconds);
                        break;
                }
                await Task.Delay(150, ct); // let the engine and Dockhand's reconciler settle between runs
            }
            log($"P1 {i + 1}/{n}: /create {dockhand[^1]:0} ms (deferred after {deferred[^1]:0.0} ms), docker run -d {cli[^1]:0} ms, Engine API {api[^1]:0} ms, ContainerService {service[^1]:0} ms");
            if (i < 0)
            {
                dockhand.Clear();
                deferred.Clear();
                cli.Clear();
                api.Clear();
                service.Clear();
            }
        }
        double md = Stats.Median(dockhand), mc = Stats.Median(cli), ma = Stats.Median(api);
        var ratio = md / mc;
        var overhead = md - ma;
        return new Figure("P1", "`/create` end to end: gateway interaction in → container running → @original edited (N = " + n.ToString(Inv) + ")",
            Ms(md), $"`docker run -d` {Ms(mc)}; Engine API create+start {Ms(ma)}", $"{F(ratio)}× CLI; +{Ms(overhead)} over API",
            "≤ 0.95× CLI and ≤ 10 ms over the API", ratio <= 0.95 && overhead <= 10,
            new JsonObject
            {
                ["dockhand_ms"] = Array(dockhand), ["deferred_ms"] = Array(deferred), ["docker_run_ms"] = Array(cli), ["engine_api_ms"] = Array(api),
                ["dockhand_median_ms"] = md, ["docker_run_median_ms"] = mc, ["engine_api_median_ms"] = ma,
                ["deferred_median_ms"] = Stats.Median(deferred), ["ratio_to_cli"] = ratio, ["overhead_over_api_ms"] = overhead,
                ["container_service_ms"] = Array(service), ["container_service_median_ms"] = Stats.Median(service),
                ["breakdown_ms"] = new JsonObject
                {
                    ["engine_create_start"] = ma, ["container_service_over_engine"] = Stats.Median(service) - ma, ["bot_and_discord_over_service"] = md - Stats.Median(service),
                },
                ["note"] = "all three use the same image and Dockhand's container settings (init, memory/cpu/pids limits, cap-drop ALL + its cap-add list, no-new-privileges, restart unless-stopped)",
            });
    }

    /// <summary>
    /// Profile of ContainerService.CreateAsync (in this process, Dockhand's settings) through <see cref="EngineTracer"/>:
    /// every engine request with its time, and the gaps between them (Dockhand's own work: SQLite, JSON, scheduling).
    /// </summary>
    public async Task<JsonObject> ProfileCreateAsync(CancellationToken ct)
    {
        await using var tracer = new EngineTracer(Path.Combine(env.Directory, "trace.sock"));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDockhandContainers(new ContainerOptions
        {
            DatabasePath = Path.Combine(env.Directory, "profile.db"),
            DockerHost = new Uri(tracer.Endpoint),
            DefaultImage = BenchEnvironment.Image,
            ExtraLabels = new Dictionary<string, string> { [BenchEnvironment.LabelKey] = env.RunId, ["bench.part"] = "profile" },
        });
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<ContainerStore>().MigrateAsync(ct);
        var containerService = provider.GetRequiredService<ContainerService>();
        var runs = new JsonArray();
        for (var i = 0; i < (quick ? 2 : 4); i++)
        {
            tracer.Events.Clear();
            var start = tracer.Clock.Elapsed.TotalMilliseconds;
            var result = await containerService.CreateAsync(new CreateRequest(new OwnerId(BenchEnvironment.NextUser()), $"bench-{env.RunId}-profile-{i}", null,
                Dockhand.Containers.Actor.Cli("bench")), cancellationToken: ct);
            var end = tracer.Clock.Elapsed.TotalMilliseconds;
            if (result is not CreateResult.Created)
                throw new InvalidOperationException($"profile create: {result}");
            var lines = new JsonArray();
            var last = start;
            double engine = 0;
            double? sent = null;
            foreach (var (at, what) in tracer.Events)
            {
                lines.Add($"+{at - start,7:0.0} ms (gap {at - last,6:0.0})  {what}");
                if (what.StartsWith('→'))
                    sent = at;
                else if (sent is { } s)
                {
                    engine += at - s;
                    sent = null;
                }
                last = at;
            }
            lines.Add($"+{end - start,7:0.0} ms (gap {end - last,6:0.0})  CreateAsync returned");
            runs.Add(new JsonObject { ["total_ms"] = end - start, ["in_engine_ms"] = engine, ["outside_engine_ms"] = end - start - engine, ["timeline"] = lines });
            if (i == (quick ? 1 : 3))
                foreach (var line in lines)
                    log("  " + line!.GetValue<string>());
            log($"profile create {i + 1}: {end - start:0.0} ms, of which waiting for the engine {engine:0.0} ms, Dockhand's own work {end - start - engine:0.0} ms");
        }

        // The same for the first page of /list over 10,000 records (ContainerService.ListAsync, page size 10 as the bot uses).
        await SeedAsync(10_000, ct, Path.Combine(env.Directory, "profile.db"));
        var lists = new JsonArray();
        for (var i = 0; i < 3; i++)
        {
            tracer.Events.Clear();
            var start = tracer.Clock.Elapsed.TotalMilliseconds;
            var page = await containerService.ListAsync(0, 10, ct);
            var end = tracer.Clock.Elapsed.TotalMilliseconds;
            var events = tracer.Events.ToArray();
            var firstEngine = events.Length > 0 ? events[0].AtMs - start : end - start;
            var lastEngine = events.Length > 0 ? events[^1].AtMs - start : 0;
            lists.Add(new JsonObject
            {
                ["total_ms"] = end - start, ["before_first_engine_request_ms"] = firstEngine, ["engine_requests"] = events.Count(e => e.Event.StartsWith('→')),
                ["last_engine_answer_ms"] = lastEngine, ["items"] = page.Items.Count, ["total_records"] = page.Total,
            });
            log($"profile list {i + 1}: {end - start:0.0} ms; SQLite page+count before the first engine request {firstEngine:0.0} ms; {events.Count(e => e.Event.StartsWith('→'))} engine requests, last answer at {lastEngine:0.0} ms");
        }
        return new JsonObject { ["container_service_create"] = runs, ["container_service_list_10000"] = lists };
    }

    /// <summary>Returns (end to end, interaction in → deferred callback) in ms.</summary>
    private async Task<(double Total, double Deferred)> BotCreateAsync(string name, CancellationToken ct)
    {
        var owner = BenchEnvironment.NextUser();
        var token = env.NextToken();
        var payload = env.SlashCommand(BenchEnvironment.Invoker, "create", token,
            new TestOption("user", 6, owner.ToString(Inv), ResolvedUsername: $"u{owner}"),
            new TestOption("container_name", 3, name)).ToJsonString();
        var interactionId = 0UL;
        var start = DateTimeOffset.UtcNow;
        await env.Gateway.DispatchInteractionAsync(payload, ct);
        var edit = await env.WaitForEditAsync(token, "Created", TimeSpan.FromSeconds(60), 1, ct);
        var callback = env.Rest.RequestsTo(LoopbackDiscordRestServer.Routes.InteractionCallback).LastOrDefault(r => r.Path.Contains(token, StringComparison.Ordinal));
        _ = interactionId;
        _botContainers.Add((owner, await env.ContainerIdAsync(owner, ct)));
        return ((edit.At - start).TotalMilliseconds, callback is null ? double.NaN : (callback.At - start).TotalMilliseconds);
    }

    private string? _anchorNetwork;

    /// <summary>The instance network of the bot under test (labelled with this run and bench.part=bot), once it exists.</summary>
    private async Task<string?> BotNetworkAsync(CancellationToken ct)
    {
        var networks = await env.Docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{BenchEnvironment.LabelKey}={env.RunId}"] = true, ["bench.part=bot"] = true } },
        }, ct);
        return networks.FirstOrDefault()?.Name;
    }

    private IEnumerable<string> DockerRunArguments(string name, ContainerOptions options)
    {
        var args = new List<string>
        {
            "run", "-d", "--name", name, "--hostname", name, "--label", $"{BenchEnvironment.LabelKey}={env.RunId}", "--init",
            "--memory", options.MemoryLimitBytes.ToString(Inv), "--memory-swap", options.MemoryLimitBytes.ToString(Inv),
            "--cpus", (options.NanoCpus / 1e9).ToString(Inv), "--pids-limit", options.PidsLimit.ToString(Inv),
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--restart", "unless-stopped",
        };
        // The same home volume Dockhand gives each owner (a new named volume, filled from the image), labelled for clean-up.
        if (_anchorNetwork is not null)
            args.AddRange(["--network", _anchorNetwork]);
        if (options.HomesEnabled)
            args.AddRange(["--mount", $"type=volume,source={name}-home,target={options.VolumePath},volume-label={BenchEnvironment.LabelKey}={env.RunId}"]);
        foreach (var cap in options.CapAdd)
            args.AddRange(["--cap-add", cap]);
        args.Add(BenchEnvironment.Image);
        args.AddRange(options.Command);
        return args;
    }

    private CreateContainerParameters EngineParameters(string name, ContainerOptions options) => new()
    {
        Name = name,
        Image = BenchEnvironment.Image,
        Cmd = options.Command.ToList(),
        Hostname = name,
        Labels = env.Labels,
        HostConfig = new HostConfig
        {
            Init = true,
            Memory = options.MemoryLimitBytes,
            MemorySwap = options.MemoryLimitBytes,
            NanoCPUs = options.NanoCpus,
            PidsLimit = options.PidsLimit,
            CapDrop = ["ALL"],
            CapAdd = options.CapAdd.ToList(),
            SecurityOpt = ["no-new-privileges:true"],
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.UnlessStopped },
            NetworkMode = _anchorNetwork ?? "default",
            Mounts = options.HomesEnabled
                ? [new Mount
                {
                    Type = "volume",
                    Source = name + "-home",
                    Target = options.VolumePath,
                    VolumeOptions = new VolumeOptions { Labels = new Dictionary<string, string> { [BenchEnvironment.LabelKey] = env.RunId } },
                }]
                : null,
        },
    };

    // ---------------------------------------------------------------- terminal helpers
    private async Task<(ulong Owner, string ContainerId)> TerminalContainerAsync(int index, CancellationToken ct)
    {
        while (_botContainers.Count <= index)
            _botContainers.Add(await env.CreateThroughBotAsync($"bench-{env.RunId}-t{_botContainers.Count}", ct));
        return _botContainers[index];
    }

    private TerminalLinks Links()
        => new(new DockhandDatabase(env.DatabasePath), Options.Create(new TerminalOptions { ServiceUrl = env.Server!.BaseAddress }), TimeProvider.System);

    private async Task<TerminalSocket> OpenTerminalAsync(TerminalLinks links, ulong owner, string containerId, CancellationToken ct)
    {
        var link = await links.IssueAsync(new OwnerId(owner), containerId, ct);
        return await TerminalSocket.OpenAsync(env.Server!.BaseAddress, link.Url, ct);
    }

    // ---------------------------------------------------------------- P2: throughput
    public async Task<Figure> ThroughputAsync(CancellationToken ct)
    {
        const long rawBytes = 48L * 1024 * 1024; // base64 makes it 64 MiB
        const string file = "/tmp/dockhand-p2.b64";
        // The file is made once, outside the timing: generating it on the fly (head | base64) capped both paths at
        // busybox base64's speed, so the ratio said nothing about the terminal. Both paths now time a plain cat.
        var command = $"cat {file}; echo __DO\"\"NE__";
        var (owner, id) = await TerminalContainerAsync(0, ct);
        var made = await Shell.RunAsync("docker", ["exec", id, "sh", "-c", $"head -c {rawBytes.ToString(Inv)} /dev/zero | base64 > {file}"], cancellationToken: ct);
        if (made.ExitCode != 0)
            throw new InvalidOperationException($"P2: could not write {file} in the container: {made.Stderr}");
        var links = Links();
        var runs = quick ? 1 : 3;
        var web = new List<double>();
        var cli = new List<double>();
        long webBytes = 0, cliBytes = 0, frames = 0;
        for (var i = 0; i < runs; i++)
        {
            foreach (var kind in i % 2 == 0 ? new[] { 0, 1 } : [1, 0])
            {
                if (kind == 0)
                {
                    await using var terminal = await OpenTerminalAsync(links, owner, id, ct);
                    var marker = "__DONE__"u8.ToArray();
                    var carry = new byte[2 * marker.Length];
                    var carried = 0;
                    var watch = Stopwatch.StartNew();
                    var streaming = terminal.StreamUntilAsync(frame =>
                    {
                        if (frame.IndexOf(marker) >= 0)
                            return true;
                        // The marker may straddle two reads: look at the seam only.
                        var head = frame[..Math.Min(marker.Length - 1, frame.Length)];
                        head.CopyTo(carry.AsSpan(carried));
                        if (carry.AsSpan(0, carried + head.Length).IndexOf(marker) >= 0)
                            return true;
                        var tail = frame[Math.Max(0, frame.Length - (marker.Length - 1))..];
                        tail.CopyTo(carry);
                        carried = tail.Length;
                        return false;
                    }, ct);
                    await terminal.SendAsync(command + "\r", ct);
                    webBytes = await streaming;
                    frames = terminal.Frames;
                    web.Add(webBytes / 1048576.0 / watch.Elapsed.TotalSeconds);
                }
                else
                {
                    var run = await Shell.RunAsync("docker", ["exec", "-t", id, "sh", "-c", command], countOnly: true, cancellationToken: ct);
                    cliBytes = run.StdoutBytes;
                    cli.Add(cliBytes / 1048576.0 / run.Elapsed.TotalSeconds);
                }
            }
            log($"P2 run {i + 1}/{runs}: WebSocket {web[^1]:0.0} MiB/s ({frames} reads, {webBytes / Math.Max(1, frames)} B each), docker exec -t {cli[^1]:0.0} MiB/s");
        }
        double mw = Stats.Median(web), mc = Stats.Median(cli);
        return new Figure("P2", "terminal throughput: `cat` of a 64 MiB file made beforehand, from the container's pty to a WebSocket client",
            $"{F(mw, "0.0")} MiB/s", $"`docker exec -t` {F(mc, "0.0")} MiB/s", $"{F(mw / mc)}×", "≥ 1.0×", mw / mc >= 1.0,
            new JsonObject
            {
                ["websocket_mib_s"] = Array(web), ["docker_exec_mib_s"] = Array(cli), ["websocket_bytes"] = webBytes, ["docker_exec_bytes"] = cliBytes, ["websocket_reads"] = frames,
                ["websocket_mean_read_bytes"] = frames == 0 ? 0 : webBytes / (double)frames,
                ["ratio"] = mw / mc, ["note"] = "the docker exec -t time includes starting the CLI and the exec (about 0.1 s); the WebSocket time starts at an attached, idle shell",
            });
    }

    // ---------------------------------------------------------------- P3: keystroke echo
    public async Task<Figure> EchoAsync(CancellationToken ct)
    {
        var (owner, id) = await TerminalContainerAsync(0, ct);
        var links = Links();
        var perRound = quick ? 100 : 250;
        var rounds = 2;
        var web = new List<double>();
        var cli = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var kind in round % 2 == 0 ? new[] { 0, 1 } : [1, 0])
            {
                if (kind == 0)
                {
                    await using var terminal = await OpenTerminalAsync(links, owner, id, ct);
                    web.AddRange(await EchoSamplesAsync(terminal, perRound, 20, ct));
                }
                else
                {
                    var script = Path.Combine(AppContext.BaseDirectory, "pty_echo.py");
                    var run = await Shell.RunAsync("python3", [script, id, perRound.ToString(Inv), "20"], cancellationToken: ct);
                    if (run.ExitCode != 0)
                        throw new InvalidOperationException($"pty_echo.py failed: {run.Stderr}");
                    cli.AddRange(JsonNode.Parse(run.Stdout)!["samples_ms"]!.AsArray().Select(v => v!.GetValue<double>()));
                }
            }
        }
        double w50 = Stats.Percentile(web, 50), w99 = Stats.Percentile(web, 99), c50 = Stats.Percentile(cli, 50), c99 = Stats.Percentile(cli, 99);
        log($"P3: WebSocket p50 {w50:0.000} ms p99 {w99:0.000} ms; docker exec -it p50 {c50:0.000} ms p99 {c99:0.000} ms");
        return new Figure("P3", "keystroke echo round trip through the web terminal (busybox sh, one key at a time)",
            $"p50 {Ms(w50)}, p99 {Ms(w99)}", $"`docker exec -it` in a pty: p50 {Ms(c50)}, p99 {Ms(c99)}", $"{F(w50 / c50)}× p50, {F(w99 / c99)}× p99",
            "p50 ≤ 0.7 ms, p99 ≤ 2 ms", w50 <= 0.7 && w99 <= 2,
            new JsonObject { ["websocket_p50_ms"] = w50, ["websocket_p99_ms"] = w99, ["docker_exec_p50_ms"] = c50, ["docker_exec_p99_ms"] = c99, ["samples_each"] = web.Count });
    }

    private static async Task<List<double>> EchoSamplesAsync(TerminalSocket terminal, int keys, int warmup, CancellationToken ct)
    {
        var samples = new List<double>(keys);
        for (var i = 0; i < warmup + keys; i++)
        {
            if (i > 0 && i % 100 == 0)
            {
                await terminal.SendAsync("\u0015", ct); // Ctrl-U: clear the line now and then
                await terminal.DrainAsync(TimeSpan.FromMilliseconds(20), ct);
            }
            var watch = Stopwatch.StartNew();
            await terminal.SendAsync("x", ct);
            await terminal.ReadUntilAsync((frame, _) => frame.IndexOf((byte)'x') >= 0, ct);
            if (i >= warmup)
                samples.Add(watch.Elapsed.TotalMilliseconds);
        }
        return samples;
    }

    // ---------------------------------------------------------------- P4: 200 concurrent sessions
    public async Task<Figure> ConcurrentSessionsAsync(CancellationToken ct)
    {
        var sessions = quick ? 40 : 200;
        var containers = 4;
        var keys = quick ? 5 : 10;
        var targets = new List<(ulong Owner, string Id)>();
        for (var c = 0; c < containers; c++)
            targets.Add(await TerminalContainerAsync(c, ct));
        var links = Links();
        var before = env.Server!.ResidentMiB();
        var open = Stopwatch.StartNew();
        var terminals = new TerminalSocket[sessions];
        using (var gate = new SemaphoreSlim(16))
        {
            await Task.WhenAll(Enumerable.Range(0, sessions).Select(async s =>
            {
                await gate.WaitAsync(ct);
                try
                {
                    var (owner, id) = targets[s % containers];
                    terminals[s] = await OpenTerminalAsync(links, owner, id, ct);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        var openSeconds = open.Elapsed.TotalSeconds;
        var peak = env.Server.ResidentMiB();
        log($"P4: {sessions} sessions open in {openSeconds:0.0} s, RSS {before:0} → {peak:0} MiB");
        var samples = new ConcurrentBag<double>();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, env.Server.ResidentMiB());
                try
                {
                    await Task.Delay(100, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }, CancellationToken.None);
        await Task.WhenAll(terminals.Select(async t =>
        {
            foreach (var sample in await EchoSamplesAsync(t, keys, 2, ct))
                samples.Add(sample);
        }));
        await sampling.CancelAsync();
        await sampler;
        peak = Math.Max(peak, env.Server.ResidentMiB());
        foreach (var t in terminals)
            await t.DisposeAsync();
        double p50 = Stats.Percentile(samples, 50), p99 = Stats.Percentile(samples, 99);
        log($"P4: echo p50 {p50:0.00} ms, p99 {p99:0.00} ms, peak RSS {peak:0} MiB");
        return new Figure("P4", $"{sessions.ToString(Inv)} concurrent terminal sessions (4 containers) all typing: echo latency; server RSS",
            $"p50 {Ms(p50)}, p99 {Ms(p99)}; RSS {F(peak, "0")} MiB", "—", "—", "p99 ≤ 50 ms and RSS ≤ 300 MB", p99 <= 50 && peak * 1.048576 <= 300,
            new JsonObject
            {
                ["sessions"] = sessions, ["keys_per_session"] = keys, ["p50_ms"] = p50, ["p99_ms"] = p99, ["rss_before_mib"] = before, ["rss_peak_mib"] = peak,
                ["open_all_seconds"] = openSeconds,
            });
    }

    // ---------------------------------------------------------------- P7: /list with 10,000 records
    public async Task<Figure> ListAsync(CancellationToken ct)
    {
        const int records = 10_000;
        await SeedAsync(records, ct);
        var runs = quick ? 3 : 9;
        var samples = new List<double>();
        var deferred = new List<double>();
        for (var i = 0; i < runs + 1; i++)
        {
            var token = env.NextToken();
            var start = DateTimeOffset.UtcNow;
            await env.Gateway.DispatchInteractionAsync(env.SlashCommand(BenchEnvironment.Invoker, "list", token).ToJsonString(), ct);
            var edit = await env.WaitForEditAsync(token, "\"embeds\"", TimeSpan.FromSeconds(60), 1, ct);
            if (!edit.Body.Contains("seeded-0", StringComparison.Ordinal))
                throw new InvalidOperationException($"P7: the first page is not the seeded records': {edit.Body[..Math.Min(300, edit.Body.Length)]}");
            var callback = env.Rest.RequestsTo(LoopbackDiscordRestServer.Routes.InteractionCallback).LastOrDefault(r => r.Path.Contains(token, StringComparison.Ordinal));
            if (i > 0) // the first run warms up
            {
                samples.Add((edit.At - start).TotalMilliseconds);
                deferred.Add(callback is null ? double.NaN : (callback.At - start).TotalMilliseconds);
            }
            await Task.Delay(100, ct);
        }
        var median = Stats.Median(samples);
        log($"P7: /list first page median {median:0.0} ms (deferred after {Stats.Median(deferred):0.0} ms)");
        return new Figure("P7", "`/list` with 10,000 records: gateway interaction in → first page in @original",
            $"{Ms(median)} (p90 {Ms(Stats.Percentile(samples, 90))})", "—", "—", "≤ 50 ms", median <= 50,
            new JsonObject
            {
                ["records"] = records, ["samples_ms"] = Array(samples), ["median_ms"] = median, ["deferred_ms"] = Array(deferred),
                ["deferred_median_ms"] = Stats.Median(deferred),
                ["note"] = "the bot defers (ephemeral) first, then edits @original with page 1 (10 rows); the seeded rows' containers do not exist, so each costs an inspect (404), as a running container's would (its start time)",
            });
    }

    /// <summary>10,000 ready rows (older than the bench's real containers, so they fill the first page; their containers are gone).</summary>
    private async Task SeedAsync(int records, CancellationToken ct, string? databasePath = null)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath ?? env.DatabasePath};Pooling=False");
        await connection.OpenAsync(ct);
        await using var transaction = connection.BeginTransaction();
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO containers (discord_user_id, container_name, container_id, image, created_at, state, updated_at) VALUES ($o, $n, $i, $m, $c, 'ready', $c)";
        var o = insert.Parameters.Add("$o", SqliteType.Text);
        var n = insert.Parameters.Add("$n", SqliteType.Text);
        var id = insert.Parameters.Add("$i", SqliteType.Text);
        insert.Parameters.AddWithValue("$m", BenchEnvironment.Image);
        var c = insert.Parameters.Add("$c", SqliteType.Text);
        var origin = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var k = 0; k < records; k++)
        {
            o.Value = (1_170_000_000_000_000_000UL + (ulong)k).ToString(Inv);
            n.Value = $"seeded-{k.ToString(Inv)}";
            id.Value = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{env.RunId}/{k}")));
            c.Value = origin.AddMinutes(k).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
    }
}
