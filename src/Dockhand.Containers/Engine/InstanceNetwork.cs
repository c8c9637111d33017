namespace Dockhand.Containers.Engine;

/// <summary>
/// Each instance's own bridge network, the default (CONTAINER_NETWORK empty): named after the instance id, labelled like
/// everything else Dockhand creates, with inter-container traffic off, so one user's root shell cannot reach another
/// user's container. Its Linux bridge gets a predictable name (<see cref="BridgeName"/>) so the host firewall rules in
/// the README can name it. Created at the first create; never removed by Dockhand (containers, running or stopped,
/// stay attached to it across restarts).
/// </summary>
public static class InstanceNetwork
{
    public const string IccOption = "com.docker.network.bridge.enable_icc";
    public const string BridgeNameOption = "com.docker.network.bridge.name";
    /// <summary>Linux interface names hold at most 15 bytes (IFNAMSIZ 16 with the terminating NUL).</summary>
    private const int MaxInterfaceName = 15;
    private const string BridgePrefix = "dh-";

    public static string Name(string instance) => $"dockhand-{instance}";

    /// <summary>"dh-" and the first 12 hex digits of the instance id: 15 characters, unique per instance in practice.</summary>
    public static string BridgeName(string instance)
        => BridgePrefix + instance[..Math.Min(instance.Length, MaxInterfaceName - BridgePrefix.Length)];

    /// <summary>The driver options a new instance network is created with.</summary>
    public static Dictionary<string, string> CreateOptions(string instance) => new(StringComparer.Ordinal)
    {
        [IccOption] = "false",
        [BridgeNameOption] = BridgeName(instance),
    };

    /// <summary>
    /// Null when <paramref name="network"/> is this instance's network, made as Dockhand makes it; otherwise one sentence
    /// saying what is wrong, for operators. A network by that name that is not ours is never used: containers joined to it
    /// could share it with whoever made it.
    /// </summary>
    public static string? Problem(EngineNetwork network, string instance)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (!network.Labels.TryGetValue(ContainerLabels.Managed, out var managed) || managed != "true"
            || !network.Labels.TryGetValue(ContainerLabels.Instance, out var owner) || owner != instance)
            return $"the network {network.Name} exists but was not made by this Dockhand instance ({instance}): it lacks the labels {ContainerLabels.Managed}=true and {ContainerLabels.Instance}={instance}; remove it (docker network rm {network.Name}) or set CONTAINER_NETWORK";
        if (network.Driver != "bridge")
            return $"the network {network.Name} uses the {network.Driver} driver, not bridge; remove it (docker network rm {network.Name}) so Dockhand can make it again";
        if (!network.Options.TryGetValue(IccOption, out var icc) || !string.Equals(icc, "false", StringComparison.OrdinalIgnoreCase))
            return $"the network {network.Name} lets containers reach each other ({IccOption} is not false); remove it (docker network rm {network.Name}) so Dockhand can make it again";
        return null;
    }
}
