using Dockhand.Containers.Engine;

namespace Dockhand.Containers;

/// <summary>
/// One line of <c>dockhand doctor</c> about isolation. <see cref="Advisory"/> checks warn instead of failing: they
/// describe the host around Dockhand (its firewall, a network the operator chose), which Dockhand does not own.
/// </summary>
public sealed record IsolationCheck(string Name, bool Ok, string Detail, bool Advisory = false);

/// <summary>What <c>dockhand doctor</c> says about the container network, the host firewall and the disk limit. Only reads.</summary>
public static class IsolationReport
{
    /// <param name="instance">The database's instance id; null when there is no database yet (the network's name is not known).</param>
    /// <param name="engineReachable">False when the engine did not answer: the checks that need it are left out.</param>
    public static async Task<IReadOnlyList<IsolationCheck>> CheckAsync(ContainerService service, IContainerRuntime engine, string? instance, bool engineReachable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(engine);
        var options = service.Options;
        var checks = new List<IsolationCheck> { await NetworkAsync(options, engine, instance, engineReachable, cancellationToken) };
        if (options.UsesInstanceNetwork && instance is not null)
        {
            var firewall = await HostFirewall.CheckMetadataDropAsync(InstanceNetwork.BridgeName(instance), options.DockerHost, cancellationToken);
            checks.Add(new IsolationCheck("metadata-firewall", firewall.MetadataBlocked, firewall.Detail, Advisory: true));
        }
        if (engineReachable)
            checks.Add(await DiskLimitAsync(service, cancellationToken));
        return checks;
    }

    private static async Task<IsolationCheck> NetworkAsync(ContainerOptions options, IContainerRuntime engine, string? instance, bool engineReachable, CancellationToken cancellationToken)
    {
        const string Check = "network";
        if (options.Network == "none")
            return new(Check, true, "none: containers have no network");
        if (options.Network is "bridge" or "default")
            return new(Check, false, $"{options.Network}: every container joins the engine's default bridge, where users can reach each other's containers; leave {ContainerOptions.Keys.Network} empty for an isolated network per instance", Advisory: true);
        if (!options.UsesInstanceNetwork)
            return new(Check, true, $"{options.Network}: a network you manage; Dockhand does not check whether its containers can reach each other");
        if (instance is null)
            return new(Check, true, "this instance's own network (dockhand-<instance id>, inter-container traffic off) is made at the first create");
        var name = InstanceNetwork.Name(instance);
        var bridge = InstanceNetwork.BridgeName(instance);
        if (!engineReachable)
            return new(Check, true, $"{name} (bridge {bridge}); not inspected, the engine does not answer");
        try
        {
            return await engine.InspectNetworkAsync(name, cancellationToken) switch
            {
                null => new(Check, true, $"{name} (bridge {bridge}) does not exist yet; the first create makes it, with inter-container traffic off"),
                { } network when InstanceNetwork.Problem(network, instance) is { } problem => new(Check, false, problem),
                _ => new(Check, true, $"{name} (bridge {bridge}): this instance's, inter-container traffic off"),
            };
        }
        catch (EngineRefusedException e)
        {
            return new(Check, false, $"{name}: the engine would not say ({e.Message})");
        }
    }

    private static async Task<IsolationCheck> DiskLimitAsync(ContainerService service, CancellationToken cancellationToken)
    {
        const string Check = "disk-limit";
        var limit = service.Options.DiskLimitBytes;
        DiskLimitSupport support;
        try
        {
            support = await service.GetDiskLimitSupportAsync(cancellationToken);
        }
        catch (EngineRefusedException e)
        {
            return new(Check, limit == 0, $"the engine would not describe its storage ({e.Message})");
        }
        var enforceable = support.Enforceable ? "enforceable on this engine" : "not enforceable on this engine";
        if (limit == 0)
            return new(Check, true, $"off ({ContainerOptions.Keys.DiskLimit} is empty); {enforceable}: {support.Explanation}");
        return support.Enforceable
            ? new(Check, true, $"{FormatSize(limit)} per container's writable layer (home volumes are not limited); {enforceable}: {support.Explanation}")
            : new(Check, false, $"{ContainerOptions.Keys.DiskLimit}: {ContainerService.DiskLimitSentence(support)}");
    }

    internal static string FormatSize(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30}g",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20}m",
        _ => $"{bytes} bytes",
    };
}
