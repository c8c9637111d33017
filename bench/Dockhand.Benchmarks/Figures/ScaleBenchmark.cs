using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using Dockhand.Benchmarks.Support;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Data.Sqlite;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// P8 (opt-in, <c>--only P8</c>; <c>--p8-containers N</c>, default 1,000): N of the smallest containers under one
/// instance, made through the bot's own /create on the gateway (so labels, records, the instance network and the
/// audit rows are Dockhand's), then: the first page of /list, a full reconciliation pass (<c>dockhand reconcile</c>),
/// start-up to ready and to the start-up pass's "Reconciled" line with N containers present, and RSS; anchored by
/// <c>docker ps -a --filter label=dockhand.instance=…</c> and the raw Engine API list in the same run. Its own
/// <c>dockhand run</c> and database; every container is removed at the end (also on failure) and the time is reported.
/// </summary>
internal sealed class ScaleBenchmark : IFigureBenchmark
{
    private const string Part = "bench.part=p8";

    /// <summary>
    /// 32 MiB, not Docker's minimum of 6 MiB. On cgroup v1 with runc 1.1 (this engine: runc 1.1.5), `runc init` does its
    /// set-up inside the new container's memory cgroup, so its own memory is charged to the container: a Go runtime that
    /// peaks just over 5 MB with busybox (opencontainers/runc#3987, #4021) plus the copy of the runc binary (8.7 MB here)
    /// that runc 1.1 makes since CVE-2019-5736. Under 6 MiB it was OOM-killed, more often the busier the machine
    /// (dockerd reports "cannot start a stopped process"), which ended the 2026-11-29 runs at 731–807 containers.
    /// 32 MiB is twice that sum. A limit reserves nothing: busybox `tail` itself uses well under 1 MiB.
    /// </summary>
    private const string MemoryLimit = "32m";

    public string Id => "P8";

    public bool UsesMainServer => false;

    public bool InDefaultRun => false;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var env = context.Env;
        var ct = cancellationToken;
        var total = Stopwatch.StartNew();
        var n = context.Settings.ScaleContainers;
        var asked = n;
        var parallelism = context.Settings.ScaleParallelism;
        var database = Path.Combine(env.Directory, "scale.db");
        var settings = env.Settings(database);
        // The smallest container Dockhand makes: no home volume, busybox `tail -f /dev/null` under docker-init, and the
        // memory limit runc 1.1 can reliably start it under (see MemoryLimit).
        settings["CONTAINER_MEMORY_LIMIT"] = MemoryLimit;
        settings["CONTAINER_VOLUME_PATH"] = "";
        settings["CONTAINER_EXTRA_LABELS"] = $"{BenchEnvironment.LabelKey}={env.RunId},{Part}";
        // The reconciler's "Reconciled: …" line marks the end of the start-up pass (its category today, and after the refactor's move into Reconciliation/).
        settings["Logging__LogLevel__Dockhand.Containers.Reconciler"] = "Information";
        settings["Logging__LogLevel__Dockhand.Containers.Reconciliation.Reconciler"] = "Information";
        var data = new JsonObject { ["containers_asked"] = n, ["create_parallelism"] = parallelism };
        double removeSeconds = double.NaN;
        try
        {
            // 1. N containers through the bot's /create, `parallelism` interactions in flight.
            var watch = Stopwatch.StartNew();
            var server = DockhandServer.Start(env.Directory, settings);
            try
            {
                await server.WaitReadyAsync(watch, TimeSpan.FromSeconds(90), ct);
                await env.Gateway.WaitForSessionAsync(TimeSpan.FromSeconds(60), ct);
                // A refused create is retried under a new name (at 6m, runc's own start, charged to the container's
                // memory limit, now and then died: "cannot start a stopped process"). Creating stops after 20 refusals:
                // the engine's limit on this machine is then what it holds, and the reason is kept.
                var created = 0;
                var refusals = new System.Collections.Concurrent.ConcurrentQueue<string>();
                var creating = Stopwatch.StartNew();
                using (var stop = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    try
                    {
                        await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = stop.Token }, async (k, token) =>
                        {
                            for (var attempt = 0; ; attempt++)
                            {
                                try
                                {
                                    await CreateAsync(env, $"p8-{env.RunId}-{k.ToString(CultureInfo.InvariantCulture)}-{attempt.ToString(CultureInfo.InvariantCulture)}", token);
                                    break;
                                }
                                catch (InvalidOperationException e)
                                {
                                    refusals.Enqueue(e.Message);
                                    if (refusals.Count >= 20)
                                    {
                                        await stop.CancelAsync();
                                        return;
                                    }
                                }
                            }
                            if (Interlocked.Increment(ref created) % 100 == 0)
                                context.Log($"P8: {created}/{n} created ({creating.Elapsed.TotalSeconds:0} s, RSS {server.ResidentMiB():0} MiB, {refusals.Count} refused and retried)");
                        });
                    }
                    catch (OperationCanceledException) when (refusals.Count >= 20 && !ct.IsCancellationRequested)
                    {
                    }
                }
                var refusal = refusals.IsEmpty ? null : $"{refusals.Count} refused (the audit log has the engine's words, e.g. 'cannot start a stopped process'); last: {refusals.Last()}";
                data["create_seconds"] = creating.Elapsed.TotalSeconds;
                data["creates_per_second"] = created / creating.Elapsed.TotalSeconds;
                data["created"] = created;
                data["create_refusal"] = refusal;
                data["create_refusals"] = refusals.Count;
                data["create_refusal_detail"] = await RefusalDetailAsync(database, ct);
                if (refusal is not null)
                    context.Log($"P8: {created} of {n} created; {refusal}; engine: {data["create_refusal_detail"]}");
                n = created;
                context.Log($"P8: {n} containers created through /create in {creating.Elapsed.TotalSeconds:0.0} s ({n / creating.Elapsed.TotalSeconds:0.0}/s)");
                var instance = await InstanceIdAsync(database, ct);
                var instanceLabel = $"dockhand.instance={instance}";

                // 2. Anchors: the docker CLI and the raw API listing this instance's containers.
                var cli = new List<double>();
                var api = new List<double>();
                var listed = 0;
                for (var i = 0; i < 4; i++)
                {
                    var ps = await Shell.RunAsync("docker", ["ps", "-a", "--filter", $"label={instanceLabel}", "--format", "{{.ID}}"], cancellationToken: ct);
                    var apiWatch = Stopwatch.StartNew();
                    var list = await env.Docker.Containers.ListContainersAsync(new ContainersListParameters
                    {
                        All = true,
                        Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [instanceLabel] = true } },
                    }, ct);
                    if (i == 0)
                        continue; // warm-up
                    api.Add(apiWatch.Elapsed.TotalMilliseconds);
                    cli.Add(ps.Elapsed.TotalMilliseconds);
                    listed = list.Count;
                }
                data["containers"] = listed;
                if (listed < n)
                    throw new InvalidOperationException($"P8: the engine lists {listed} containers labelled {instanceLabel}, not {n}");

                // 3. The first page of /list on the gateway (as P7, with N real containers behind the records).
                var page = new List<double>();
                for (var i = 0; i < 6; i++)
                {
                    var token = env.NextToken();
                    var start = DateTimeOffset.UtcNow;
                    await env.Gateway.DispatchInteractionAsync(env.SlashCommand(BenchEnvironment.Invoker, "list", token).ToJsonString(), ct);
                    var edit = await env.WaitForEditAsync(token, "\"embeds\"", TimeSpan.FromSeconds(120), 5, ct);
                    if (i > 0)
                        page.Add((edit.At - start).TotalMilliseconds);
                }
                var runningRss = server.ResidentMiB();

                // 4. A full reconciliation pass: `dockhand reconcile` (its own process) against the process start of `dockhand --version`.
                var reconcile = new List<double>();
                var cliStart = new List<double>();
                string reconcileOutput = "";
                var (versionFile, versionArguments) = DockhandServer.Command(DockhandServer.Executable, "--version");
                var (reconcileFile, reconcileArguments) = DockhandServer.Command(DockhandServer.Executable, "reconcile");
                for (var i = 0; i < 3; i++)
                {
                    var version = await Shell.RunAsync(versionFile, versionArguments, settings, cancellationToken: ct);
                    cliStart.Add(version.Elapsed.TotalMilliseconds);
                    var run = await Shell.RunAsync(reconcileFile, reconcileArguments, settings, timeout: TimeSpan.FromMinutes(5), cancellationToken: ct);
                    if (run.ExitCode != 0)
                        throw new InvalidOperationException($"P8: dockhand reconcile exited with {run.ExitCode}: {run.Stderr.Trim()} {run.Stdout.Trim()}");
                    reconcile.Add(run.Elapsed.TotalMilliseconds);
                    reconcileOutput = run.Stdout.Trim();
                }
                context.Log($"P8: /list first page median {Stats.Median(page):0} ms; docker ps -a {Stats.Median(cli):0} ms, Engine API list {Stats.Median(api):0} ms; " +
                    $"dockhand reconcile {Stats.Median(reconcile):0} ms (dockhand --version {Stats.Median(cliStart):0} ms): {reconcileOutput}");
                data["list_first_page_ms"] = Format.Array(page);
                data["list_first_page_median_ms"] = Stats.Median(page);
                data["docker_ps_ms"] = Format.Array(cli);
                data["docker_ps_median_ms"] = Stats.Median(cli);
                data["engine_api_list_ms"] = Format.Array(api);
                data["engine_api_list_median_ms"] = Stats.Median(api);
                data["reconcile_cli_ms"] = Format.Array(reconcile);
                data["reconcile_cli_median_ms"] = Stats.Median(reconcile);
                data["cli_version_ms"] = Format.Array(cliStart);
                data["cli_version_median_ms"] = Stats.Median(cliStart);
                data["reconcile_output"] = reconcileOutput;
                data["rss_after_list_mib"] = runningRss;
            }
            finally
            {
                await server.DisposeAsync();
            }

            // 5. Start-up with N containers present: /health 200, the start-up pass's "Reconciled" line, RSS; each start
            //    is followed by one on a new, empty database (no containers) as the anchor at the same moment's load.
            var ready = new List<double>();
            var reconciled = new List<double>();
            var rss = new List<double>();
            var emptyReady = new List<double>();
            var emptyReconciled = new List<double>();
            for (var i = 0; i < (context.Quick ? 1 : 3); i++)
            {
                foreach (var empty in new[] { false, true })
                {
                    var startWatch = Stopwatch.StartNew();
                    var emptySettings = new Dictionary<string, string>(settings) { ["DATABASE_PATH"] = Path.Combine(env.Directory, $"scale-empty-{i.ToString(CultureInfo.InvariantCulture)}.db") };
                    await using var restarted = DockhandServer.Start(env.Directory, empty ? emptySettings : settings);
                    var readyMs = (await restarted.WaitReadyAsync(startWatch, TimeSpan.FromSeconds(120), ct)).TotalMilliseconds;
                    var reconciledMs = (await restarted.WaitForLineAsync("Reconciled: ", TimeSpan.FromSeconds(context.Quick ? 60 : 180), ct)).TotalMilliseconds;
                    if (empty)
                    {
                        emptyReady.Add(readyMs);
                        emptyReconciled.Add(reconciledMs);
                        context.Log($"P8 start {i + 1} with no containers: ready {readyMs:0} ms, start-up pass done at {reconciledMs:0} ms");
                        continue;
                    }
                    ready.Add(readyMs);
                    reconciled.Add(reconciledMs);
                    await Task.Delay(TimeSpan.FromSeconds(context.Quick ? 2 : 5), ct);
                    rss.Add(restarted.ResidentMiB());
                    context.Log($"P8 start {i + 1} with {n} containers: ready {readyMs:0} ms, start-up pass done at {reconciledMs:0} ms, RSS {rss[^1]:0.0} MiB");
                }
            }
            data["empty_ready_ms"] = Format.Array(emptyReady);
            data["empty_ready_median_ms"] = Stats.Median(emptyReady);
            data["empty_startup_reconciled_median_ms"] = Stats.Median(emptyReconciled);
            data["ready_ms"] = Format.Array(ready);
            data["ready_median_ms"] = Stats.Median(ready);
            data["startup_reconciled_ms"] = Format.Array(reconciled);
            data["startup_reconciled_median_ms"] = Stats.Median(reconciled);
            data["idle_rss_mib"] = Format.Array(rss);
            data["idle_rss_median_mib"] = Stats.Median(rss);
        }
        finally
        {
            var removing = Stopwatch.StartNew();
            var removed = await env.RemoveContainersAsync([$"{BenchEnvironment.LabelKey}={env.RunId}", Part]);
            removeSeconds = removing.Elapsed.TotalSeconds;
            context.Log($"P8: removed {removed} containers in {removeSeconds:0.0} s; P8 took {total.Elapsed.TotalSeconds:0} s in all");
        }
        data["remove_seconds"] = removeSeconds;
        data["total_seconds"] = total.Elapsed.TotalSeconds;
        data["note"] = $"containers: busybox `tail -f /dev/null` with docker-init, {MemoryLimit} memory limit (runc 1.1's `runc init` is charged to it on cgroup v1 and was OOM-killed under 6m), no home volume, on the instance network; made through the bot's /create. " +
            "reconcile = `dotnet dockhand.dll reconcile` wall time (a process start included: compare cli_version_ms); start-up pass = process start until the reconciler logs 'Reconciled:'";
        var ratio = (double)data["list_first_page_median_ms"]! / (double)data["docker_ps_median_ms"]!;
        return new Figure("P8", $"{n.ToString(Inv)}{(n < asked ? $" (of {asked.ToString(Inv)} asked: creating stopped after 20 refusals)" : "")} containers under one instance: /list first page; `dockhand reconcile`; start-up to ready and to the start-up pass; RSS",
            $"/list {Ms((double)data["list_first_page_median_ms"]!)}; reconcile {Ms((double)data["reconcile_cli_median_ms"]!)} (CLI start {Ms((double)data["cli_version_median_ms"]!)}); " +
            $"ready {Ms((double)data["ready_median_ms"]!)}, pass done {Ms((double)data["startup_reconciled_median_ms"]!)}; RSS {F((double)data["idle_rss_median_mib"]!, "0")} MiB",
            $"`docker ps -a --filter label=…` {Ms((double)data["docker_ps_median_ms"]!)}; Engine API list {Ms((double)data["engine_api_list_median_ms"]!)}; " +
            $"start with no containers: ready {Ms((double)data["empty_ready_median_ms"]!)}, pass done {Ms((double)data["empty_startup_reconciled_median_ms"]!)}",
            $"/list {F(ratio)}× `docker ps -a`", "— (no target yet)", null, data);
    }

    /// <summary>
    /// /create for a fresh owner through the gateway, polling its @original edits every 50 ms (a thousand pollers at
    /// 2 ms would load the machine); an edit that is not "Created" but says to ask an operator is a refusal.
    /// </summary>
    private static async Task CreateAsync(BenchEnvironment env, string name, CancellationToken cancellationToken)
    {
        var owner = BenchEnvironment.NextUser();
        var token = env.NextToken();
        await env.Gateway.DispatchInteractionAsync(env.SlashCommand(BenchEnvironment.Invoker, "create", token,
            new TestOption("user", 6, owner.ToString(CultureInfo.InvariantCulture), ResolvedUsername: $"u{owner}"),
            new TestOption("container_name", 3, name)).ToJsonString(), cancellationToken);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (env.FindEdit(token, "Created") is not null)
                return;
            if (env.FindEdit(token, "operator") is { } refused)
                throw new InvalidOperationException($"/create of {name} was refused: {refused.Body}");
            await Task.Delay(50, cancellationToken);
        }
        throw new InvalidOperationException($"/create of {name} did not finish within 3 minutes");
    }

    /// <summary>The engine's words for the last refused create, from Dockhand's audit log; null when none was refused.</summary>
    private static async Task<string?> RefusalDetailAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT detail FROM audit_log WHERE action = 'create' AND outcome = 'refused' ORDER BY id DESC LIMIT 1";
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    private static async Task<string> InstanceIdAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM dockhand_instance";
        return (string?)await command.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException("P8: the database has no instance id");
    }
}
