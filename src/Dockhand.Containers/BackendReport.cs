using System.Globalization;
using Dockhand.Containers.Swarm;

namespace Dockhand.Containers;

/// <summary>
/// What <c>dockhand doctor</c> says about the backend (CONTAINER_BACKEND): which one is in use and, on a Swarm, its nodes,
/// the hardening a service spec cannot carry on the engine's API version, and whether each node's daemon enforces
/// no-new-privileges by default. Reads, plus one short-lived probe container per node for the last (removed at once).
/// </summary>
public static class BackendReport
{
    /// <summary>The API version that added each hardening field to service specs (Docker's API version history).</summary>
    private static readonly (string Field, string SinceVersion, string OnSwarm)[] ServiceSpecGaps =
    [
        ("no-new-privileges", "1.46", "required from each node's daemon.json (\"no-new-privileges\": true), measured below"),
        ("seccomp and AppArmor profiles", "1.44", "the node's default profile applies"),
        ("memory+swap limit", "1.52", "memory limit only; swap follows the node's default"),
        ("disk limit (storage size)", "", "CONTAINER_DISK_LIMIT is refused with CONTAINER_BACKEND=swarm"),
    ];

    public static async Task<IReadOnlyList<IsolationCheck>> CheckAsync(IContainerRuntime engine, ContainerOptions options, EngineHealth health, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(health);
        if (engine is not SwarmServiceRuntime swarm)
            return [new("backend", true, $"docker: one engine at {health.Endpoint}, one container per owner")];
        var checks = new List<IsolationCheck>();
        if (!health.Reachable)
            return [new("backend", false, $"swarm: the manager at {health.Endpoint} does not answer, so its nodes are not known")];
        IReadOnlyList<SwarmNodeInfo> nodes;
        try
        {
            nodes = await swarm.ListNodesAsync(cancellationToken);
        }
        catch (EngineRefusedException e)
        {
            return [new("backend", false, $"swarm: the engine at {health.Endpoint} would not list Swarm nodes ({e.Message}); is it a Swarm manager?")];
        }
        var usable = nodes.Where(n => n.State == "ready" && n.Availability == "active" && n.HasEndpoint).ToList();
        var described = string.Join("; ", nodes.Select(n => $"{n.Hostname} ({n.Role}, {n.State}, {n.Availability}{(n.HasEndpoint ? "" : $", no endpoint in {SwarmSettings.Keys.NodeEndpoints}")})"));
        checks.Add(new("backend", usable.Count > 0, $"swarm: manager {health.Endpoint}, one service per owner; {usable.Count} node(s) can take new containers; nodes: {described}"));
        // A warning, not a failure: Dockhand makes up for each gap (or refuses the setting), but an operator should know.
        checks.Add(new("swarm-hardening", false, SpecGaps(health.ApiVersion), Advisory: true));
        if (options.NoNewPrivileges)
        {
            var probes = await swarm.CheckNoNewPrivilegesAsync(cancellationToken);
            var refusing = probes.Where(p => p.Enforced == false).ToList();
            var unmeasured = probes.Where(p => p.Enforced is null).ToList();
            var detail = string.Join("; ", probes.Select(p => $"{p.Node}: {p.Detail}"));
            checks.Add(refusing.Count > 0
                ? new("no-new-privileges", false, $"{string.Join(", ", refusing.Select(p => p.Node))} would run containers without it, so dockhand run refuses to start; {detail}")
                : new("no-new-privileges", unmeasured.Count == 0, detail, Advisory: unmeasured.Count > 0));
        }
        else
        {
            checks.Add(new("no-new-privileges", true, $"not required ({ContainerOptions.Keys.NoNewPrivileges}=false)", Advisory: true));
        }
        return checks;
    }

    /// <summary>One sentence on what a service spec on <paramref name="apiVersion"/> cannot carry, and what Dockhand does instead.</summary>
    internal static string SpecGaps(string? apiVersion)
    {
        var version = Version.TryParse(apiVersion, out var parsed) ? parsed : new Version(1, 41);
        var missing = ServiceSpecGaps
            .Where(g => g.SinceVersion.Length == 0 || version < Version.Parse(g.SinceVersion))
            .Select(g => g.SinceVersion.Length == 0 ? $"{g.Field} (in no API version: {g.OnSwarm})" : $"{g.Field} (API {g.SinceVersion}: {g.OnSwarm})");
        return string.Create(CultureInfo.InvariantCulture, $"service specs on API {version} lack {string.Join(", ", missing)}; they carry pids limit, capabilities and init, which Dockhand sets");
    }
}
