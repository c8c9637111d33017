using System.Diagnostics;
using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using Dockhand.Benchmarks.Support;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.DependencyInjection;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P1: /create end to end (gateway interaction in → container running → @original edited) against `docker run -d` and
/// the raw Engine API create + start with the same settings, rotating the order every round; ContainerService in this
/// process splits the figure, and its engine-socket trace goes to latest.json's "profile".
/// </summary>
internal sealed class CreateBenchmark : IFigureBenchmark
{
    private BenchContext? _context;

    public string Id => "P1";

    public bool UsesMainServer => true;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var ct = cancellationToken;
        var env = context.Env;
        var quick = context.Quick;
        _context = context;
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
            context.Log($"P1 {i + 1}/{n}: /create {dockhand[^1]:0} ms (deferred after {deferred[^1]:0.0} ms), docker run -d {cli[^1]:0} ms, Engine API {api[^1]:0} ms, ContainerService {service[^1]:0} ms");
            if (i < 0)
            {
                dockhand.Clear();
                deferred.Clear();
                cli.Clear();
                api.Clear();
                service.Clear();
                _ownTimes.Clear();
                _serverTimelines.Clear();
            }
        }
        context.Profile = await ProfileCreateAsync(context, ct);
        double md = Stats.Median(dockhand), mc = Stats.Median(cli), ma = Stats.Median(api);
        var ratio = md / mc;
        // The overhead is the median of each round's difference: a container's start varies by tens of ms from one to
        // the next (runc, the bridge), and the four kinds of one round run back to back, so pairing them cancels the
        // drift that a difference of medians keeps.
        var overhead = PairedMedian(dockhand, api);
        var own = _ownTimes.Count > 0 ? $"; traced, Dockhand's own time (end to end less its engine create + start) {Ms(Stats.Median(_ownTimes))}" : "";
        return new Figure("P1", "`/create` end to end: gateway interaction in → container running → @original edited (N = " + n.ToString(Inv) + ")",
            Ms(md), $"`docker run -d` {Ms(mc)}; Engine API create+start {Ms(ma)}", $"{F(ratio)}× CLI; {(overhead >= 0 ? "+" : "")}{Ms(overhead)} over API (median of the rounds' differences){own}",
            // Issue 15's target; the benchmark's first one (≤ 0.95× the CLI) cannot be met by any client of the same
            // engine when the CLI itself costs under 5 % over the API, as it does here (1–8 %).
            "≤ 5 ms over the API (ahead of the CLI)", overhead <= 5,
            new JsonObject
            {
                ["dockhand_ms"] = Format.Array(dockhand), ["deferred_ms"] = Format.Array(deferred), ["docker_run_ms"] = Format.Array(cli), ["engine_api_ms"] = Format.Array(api),
                ["dockhand_median_ms"] = md, ["docker_run_median_ms"] = mc, ["engine_api_median_ms"] = ma,
                ["deferred_median_ms"] = Stats.Median(deferred), ["ratio_to_cli"] = ratio, ["overhead_over_api_ms"] = overhead,
                ["container_service_ms"] = Format.Array(service), ["container_service_median_ms"] = Stats.Median(service),
                ["breakdown_ms"] = new JsonObject
                {
                    ["engine_create_start"] = ma, ["container_service_over_engine"] = PairedMedian(service, api), ["bot_and_discord_over_service"] = PairedMedian(dockhand, service),
                    ["docker_run_over_engine"] = PairedMedian(cli, api),
                },
                ["server_timelines"] = _serverTimelines.Count > 0 ? _serverTimelines : null,
                ["own_time_ms"] = _ownTimes.Count > 0 ? Format.Array(_ownTimes) : null,
                ["own_time_median_ms"] = _ownTimes.Count > 0 ? Stats.Median(_ownTimes) : null,
                ["note"] = "all three use the same image and Dockhand's container settings (init, memory/cpu/pids limits, cap-drop ALL + its cap-add list, no-new-privileges, restart unless-stopped)",
            });
    }

    private static double PairedMedian(IReadOnlyList<double> a, IReadOnlyList<double> b)
        => Stats.Median([.. a.Zip(b, (x, y) => x - y)]);

    /// <summary>
    /// Profile of ContainerService.CreateAsync (in this process, Dockhand's settings) through <see cref="EngineTracer"/>:
    /// every engine request with its time, and the gaps between them (Dockhand's own work: SQLite, JSON, scheduling).
    /// </summary>
    private async Task<JsonObject> ProfileCreateAsync(BenchContext context, CancellationToken ct)
    {
        var env = context.Env;
        var quick = context.Quick;
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
                    context.Log("  " + line!.GetValue<string>());
            context.Log($"profile create {i + 1}: {end - start:0.0} ms, of which waiting for the engine {engine:0.0} ms, Dockhand's own work {end - start - engine:0.0} ms");
        }

        // The same for the first page of /list over 10,000 records (ContainerService.ListAsync, page size 10 as the bot uses).
        await RecordSeeder.SeedAsync(Path.Combine(env.Directory, "profile.db"), env.RunId, 10_000, ct);
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
            context.Log($"profile list {i + 1}: {end - start:0.0} ms; SQLite page+count before the first engine request {firstEngine:0.0} ms; {events.Count(e => e.Event.StartsWith('→'))} engine requests, last answer at {lastEngine:0.0} ms");
        }
        return new JsonObject { ["container_service_create"] = runs, ["container_service_list_10000"] = lists };
    }

    /// <summary>Returns (end to end, interaction in → deferred callback) in ms.</summary>
    private async Task<(double Total, double Deferred)> BotCreateAsync(string name, CancellationToken ct)
    {
        var env = _context!.Env;
        var owner = BenchEnvironment.NextUser();
        var token = env.NextToken();
        var payload = env.SlashCommand(BenchEnvironment.Invoker, "create", token,
            new TestOption("user", 6, owner.ToString(Inv), ResolvedUsername: $"u{owner}"),
            new TestOption("container_name", 3, name)).ToJsonString();
        env.ServerTracer?.Events.Clear();
        var tracerStart = env.ServerTracer?.Clock.Elapsed.TotalMilliseconds ?? 0;
        var start = DateTimeOffset.UtcNow;
        await env.Gateway.DispatchInteractionAsync(payload, ct);
        var edit = await env.WaitForEditAsync(token, "Created", TimeSpan.FromSeconds(60), 1, ct);
        var callback = env.Rest.RequestsTo(LoopbackDiscordRestServer.Routes.InteractionCallback).LastOrDefault(r => r.Path.Contains(token, StringComparison.Ordinal));
        if (env.ServerTracer is { } tracer)
            ServerTimeline(tracer, tracerStart, start, token, (edit.At - start).TotalMilliseconds);
        _context.AddBotContainer(owner, await env.ContainerIdAsync(owner, ct));
        return ((edit.At - start).TotalMilliseconds, callback is null ? double.NaN : (callback.At - start).TotalMilliseconds);
    }

    private readonly JsonArray _serverTimelines = [];

    /// <summary>With <c>--trace-server</c>: each /create's end-to-end time less the server's engine create and start.</summary>
    private readonly List<double> _ownTimes = [];

    /// <summary>The request's time to its answer; NaN when it is missing or another request went out before the answer
    /// (the relay's log does not say which answer is whose, so such a round is left out rather than guessed).</summary>
    private static double RoundTrip(List<(double At, string What)> timeline, string request)
    {
        var sent = timeline.FindIndex(e => e.What.StartsWith("engine → POST", StringComparison.Ordinal) && e.What.Contains(request, StringComparison.Ordinal));
        var next = sent < 0 ? -1 : timeline.FindIndex(sent + 1, e => e.What.StartsWith("engine ", StringComparison.Ordinal));
        return next < 0 || !timeline[next].What.StartsWith("engine ←", StringComparison.Ordinal) ? double.NaN : timeline[next].At - timeline[sent].At;
    }

    /// <summary>
    /// With <c>--trace-server</c>: what the server did for one <c>/create</c>, in order: its engine requests (from the relay)
    /// and its calls to Discord for this interaction (from the loopback server), in ms after the dispatch. Also what it
    /// asked the engine in the 300 ms after the edit (passes and recounts set off by the create).
    /// </summary>
    private void ServerTimeline(EngineTracer tracer, double tracerStart, DateTimeOffset start, string token, double total)
    {
        var rest = _context!.Env.Rest.Requests.Where(r => r.Path.Contains(token, StringComparison.Ordinal))
            .Select(r => ((r.At - start).TotalMilliseconds, $"Discord {r.Method} {r.Route} → {r.Status}"));
        var engine = tracer.Events.Select(e => (e.AtMs - tracerStart, "engine " + e.Event));
        var lines = new JsonArray();
        var ordered = rest.Concat(engine).Where(e => e.Item1 <= total + 300).OrderBy(e => e.Item1).ToList();
        foreach (var (at, what) in ordered)
            lines.Add($"+{at,7:0.0} ms  {what}");
        // The anchor's two requests, as the server made them: what remains of the end-to-end time is Dockhand's own
        // (and Discord's), free of the start's variance from one container to the next, which swamps a difference of
        // rounds. Nothing else is in flight during either, so each request's answer is the next answer after it.
        var createAndStart = RoundTrip(ordered, "/containers/create") + RoundTrip(ordered, "/start ");
        var timeline = new JsonObject { ["total_ms"] = total, ["timeline"] = lines };
        if (!double.IsNaN(createAndStart))
        {
            _ownTimes.Add(total - createAndStart);
            timeline["engine_create_and_start_ms"] = createAndStart;
            timeline["own_ms"] = total - createAndStart;
        }
        _serverTimelines.Add(timeline);
        if (_serverTimelines.Count % 7 == 0)
        {
            _context.Log($"server timeline of /create {_serverTimelines.Count} ({total:0.0} ms end to end):");
            foreach (var line in lines)
                _context.Log("  " + line!.GetValue<string>());
        }
    }

    private string? _anchorNetwork;

    /// <summary>The instance network of the bot under test (labelled with this run and bench.part=bot), once it exists.</summary>
    private async Task<string?> BotNetworkAsync(CancellationToken ct)
    {
        var env = _context!.Env;
        var networks = await env.Docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{BenchEnvironment.LabelKey}={env.RunId}"] = true, ["bench.part=bot"] = true } },
        }, ct);
        return networks.FirstOrDefault()?.Name;
    }

    private IEnumerable<string> DockerRunArguments(string name, ContainerOptions options)
    {
        var env = _context!.Env;
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
        Labels = _context!.Env.Labels,
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
                    VolumeOptions = new VolumeOptions { Labels = new Dictionary<string, string> { [BenchEnvironment.LabelKey] = _context.Env.RunId } },
                }]
                : null,
        },
    };
}
