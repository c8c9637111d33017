using Microsoft.Extensions.Configuration;

namespace Dockhand.Containers.Swarm;

/// <summary>Which thing runs the containers: one Docker engine (default) or a Docker Swarm (one service per owner).</summary>
public enum ContainerBackend
{
    Docker,
    Swarm,
}

/// <summary>
/// The Swarm backend's settings (README "Scaling out"): CONTAINER_BACKEND, SWARM_NODE_ENDPOINTS and SWARM_TLS_CERT_PATH.
/// DOCKER_HOST names the manager. Kept apart from <see cref="ContainerOptions"/> so that the plain Docker backend's
/// options do not grow settings it never reads.
/// </summary>
public sealed record SwarmSettings
{
    public static class Keys
    {
        public const string Backend = "CONTAINER_BACKEND";
        public const string NodeEndpoints = "SWARM_NODE_ENDPOINTS";
        public const string TlsCertPath = "SWARM_TLS_CERT_PATH";
    }

    /// <summary>The files of a TLS client, in Docker's usual layout (what <c>DOCKER_CERT_PATH</c> holds).</summary>
    public static IReadOnlyList<string> TlsFiles { get; } = ["ca.pem", "cert.pem", "key.pem"];

    public ContainerBackend Backend { get; init; } = ContainerBackend.Docker;

    /// <summary>Node hostname (as <c>docker node ls</c> shows it) to that node's engine: unix:// or tcp:// (TLS).</summary>
    public IReadOnlyDictionary<string, Uri> NodeEndpoints { get; init; } = new Dictionary<string, Uri>(StringComparer.Ordinal);

    /// <summary>A directory with ca.pem, cert.pem and key.pem, for the tcp:// endpoints; empty when all are unix://.</summary>
    public string TlsCertPath { get; init; } = "";

    /// <summary>
    /// Reads and checks the settings; throws <see cref="InvalidSettingException"/> (one line, starting with the key).
    /// <paramref name="containers"/> is checked too, for the settings a Swarm cannot honour.
    /// </summary>
    public static SwarmSettings FromConfiguration(IConfiguration configuration, ContainerOptions containers)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(containers);
        var backendText = (configuration[Keys.Backend] ?? "").Trim();
        var backend = backendText.ToLowerInvariant() switch
        {
            "" or "docker" => ContainerBackend.Docker,
            "swarm" => ContainerBackend.Swarm,
            _ => throw new InvalidSettingException(Keys.Backend, $"'{backendText}' is not a backend; use docker (the default) or swarm."),
        };
        if (backend == ContainerBackend.Docker)
            return new SwarmSettings();

        var endpoints = ParseEndpoints(configuration[Keys.NodeEndpoints] ?? "");
        var certPath = (configuration[Keys.TlsCertPath] ?? "").Trim();
        if (endpoints.Values.Any(e => e.Scheme == "tcp"))
        {
            if (certPath.Length == 0)
                throw new InvalidSettingException(Keys.TlsCertPath, $"{Keys.NodeEndpoints} names a tcp:// engine, which Dockhand reaches only over TLS; set {Keys.TlsCertPath} to a directory with ca.pem, cert.pem and key.pem.");
            foreach (var file in TlsFiles)
                if (!File.Exists(Path.Combine(certPath, file)))
                    throw new InvalidSettingException(Keys.TlsCertPath, $"{Path.Combine(certPath, file)} does not exist; the directory needs ca.pem, cert.pem and key.pem (Docker's usual layout).");
        }
        if (containers.UsesInstanceNetwork)
            throw new InvalidSettingException(ContainerOptions.Keys.Network,
                "a Swarm cannot join services to a per-instance bridge network; with CONTAINER_BACKEND=swarm set CONTAINER_NETWORK to none (the node's default bridge: set \"icc\": false in each node's daemon.json) or to an overlay network's name.");
        if (containers.DiskLimitBytes > 0)
            throw new InvalidSettingException(ContainerOptions.Keys.DiskLimit,
                "a Swarm service spec (Engine API 1.41) has no storage size option, so a disk limit cannot be enforced; leave CONTAINER_DISK_LIMIT empty with CONTAINER_BACKEND=swarm.");
        return new SwarmSettings { Backend = backend, NodeEndpoints = endpoints, TlsCertPath = certPath };
    }

    /// <summary>"host=unix:///run/docker.sock,host2=tcp://10.0.0.2:2376" (commas or semicolons between pairs).</summary>
    internal static Dictionary<string, Uri> ParseEndpoints(string text)
    {
        var endpoints = new Dictionary<string, Uri>(StringComparer.Ordinal);
        foreach (var pair in text.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var host = equals > 0 ? pair[..equals].Trim() : "";
            var address = equals > 0 ? pair[(equals + 1)..].Trim() : "";
            if (host.Length == 0 || !Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("unix" or "tcp"))
                throw new InvalidSettingException(Keys.NodeEndpoints, $"'{pair}' is not hostname=unix:///path or hostname=tcp://address:port.");
            if (!endpoints.TryAdd(host, uri))
                throw new InvalidSettingException(Keys.NodeEndpoints, $"the node {host} is named twice.");
        }
        return endpoints;
    }
}
