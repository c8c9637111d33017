using System.Diagnostics;
using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using Dockhand.Benchmarks.Support;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>
/// S1: <c>/create</c> on the Swarm backend (signed POST /interactions → service created on the manager, pinned, task
/// running on a worker → @original edited) against <c>docker service create -d</c> with the same settings plus polling
/// the manager every 50 ms until the task runs, alternating, in the same run. Only when named (<c>--only S1</c>).
/// </summary>
internal sealed class SwarmCreateBenchmark : IFigureBenchmark
{
    public string Id => "S1";

    public bool UsesMainServer => false;

    public bool InDefaultRun => false;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var ct = cancellationToken;
        var env = context.Env;
        var n = context.Quick ? 2 : 7;
        await using var swarm = await SwarmBench.StartAsync(env, "s1", ct);
        var dockhand = new List<double>();
        var cli = new List<double>();
        for (var i = -1; i < n; i++) // i = -1 warms both paths up and is not counted
        {
            foreach (var kind in (i & 1) == 0 ? new[] { 0, 1 } : [1, 0])
            {
                var name = $"bench-{env.RunId}-s1-{i + 1}-{kind}";
                if (kind == 0)
                {
                    dockhand.Add((await swarm.CreateAsync(name, ct)).Milliseconds);
                }
                else
                {
                    cli.Add(await ServiceCreateAndWaitAsync(swarm, name, SwarmBench.Workers[(i + 2) % 2], env.RunId, ct));
                }
            }
            context.Log($"S1 {i + 1}/{n}: /create on Swarm {dockhand[^1]:0} ms, docker service create + wait {cli[^1]:0} ms");
            if (i < 0)
            {
                dockhand.Clear();
                cli.Clear();
            }
        }
        double md = Stats.Median(dockhand), mc = Stats.Median(cli);
        return new Figure("S1", $"`/create` on the Swarm backend: POST /interactions → service pinned to a worker, task running → @original edited (N = {n.ToString(Inv)})",
            Ms(md), $"`docker service create -d` + wait until the task runs {Ms(mc)}", $"{F(md / mc)}×", "(none: a measurement)", null,
            new JsonObject
            {
                ["dockhand_ms"] = Format.Array(dockhand), ["docker_service_create_ms"] = Format.Array(cli),
                ["dockhand_median_ms"] = md, ["docker_service_create_median_ms"] = mc, ["ratio"] = md / mc,
                ["swarm"] = SwarmBench.Settings(),
                ["note"] = "Dockhand's path also makes the owner's home volume on the chosen node (the anchor's mount makes it at task start), " +
                    "creates the service with 0 replicas, then scales it to 1 and polls the tasks every 150 ms; the anchor polls every 50 ms. " +
                    $"Both: busybox, init, cap-drop ALL, {SwarmBench.MemoryLimit} memory and {SwarmBench.CpuLimit} CPU as limits and reservations, a home volume, pinned to one worker; " +
                    "the anchor runs with --no-resolve-image (otherwise the CLI first asks a registry for the digest: a ~20 s DNS timeout here)",
            });
    }

    /// <summary>The anchor: the docker CLI makes the service (detached), then the manager's task list is polled until it runs.</summary>
    private static async Task<double> ServiceCreateAndWaitAsync(SwarmBench swarm, string name, string node, string runId, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var run = await Shell.RunAsync("docker", [
            // --no-resolve-image: the CLI would ask a registry for the image's digest first (a ~20 s DNS timeout here);
            // Dockhand's API call does not.
            "-H", SwarmBench.Socket("manager").ToString(), "service", "create", "-d", "--quiet", "--no-resolve-image", "--name", name,
            "--label", $"{BenchEnvironment.LabelKey}={runId}", "--container-label", $"{BenchEnvironment.LabelKey}={runId}",
            "--constraint", $"node.hostname=={node}", "--replicas", "1", "--init", "--cap-drop", "ALL",
            "--limit-memory", SwarmBench.MemoryLimit, "--reserve-memory", SwarmBench.MemoryLimit, "--limit-cpu", SwarmBench.CpuLimit, "--reserve-cpu", SwarmBench.CpuLimit,
            "--mount", $"type=volume,source={name}-home,target=/root,volume-label={BenchEnvironment.LabelKey}={runId}",
            BenchEnvironment.Image, "tail", "-f", "/dev/null"], cancellationToken: ct);
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"docker service create failed: {run.Stderr}");
        var id = run.Stdout.Trim();
        while (true)
        {
            var tasks = await swarm.Manager.Tasks.ListAsync(new TasksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [id] = true } },
            }, ct);
            if (tasks.Any(t => t.Status?.State == TaskState.Running))
            {
                var elapsed = watch.Elapsed.TotalMilliseconds;
                // Not timed: the anchor's reservations go, so the workers keep room for the next rounds.
                await swarm.Manager.Swarm.RemoveServiceAsync(id, ct);
                return elapsed;
            }
            if (watch.Elapsed > TimeSpan.FromSeconds(120))
                throw new TimeoutException($"the service {name} did not run within 120 s");
            await Task.Delay(50, ct);
        }
    }
}
