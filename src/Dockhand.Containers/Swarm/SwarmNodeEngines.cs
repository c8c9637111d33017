using Dockhand.Containers.Engine;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers.Swarm;

/// <summary>
/// The engines of the Swarm's nodes, from SWARM_NODE_ENDPOINTS: a manager cannot exec into (or inspect, or take stats
/// of) a task's container on another node, so those calls go to the node's own engine. One
/// <see cref="DockerContainerRuntime"/> per node, made at first use, so the node calls share the plain backend's code
/// (exec attach, resize, error translation) instead of repeating it.
/// </summary>
internal sealed class SwarmNodeEngines(ContainerOptions options, SwarmSettings settings, TimeProvider time, ILoggerFactory loggers) : IDisposable
{
    private readonly Dictionary<string, DockerContainerRuntime> _engines = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The hostnames that have an endpoint.</summary>
    public IEnumerable<string> Hostnames => settings.NodeEndpoints.Keys;

    public bool Has(string hostname) => settings.NodeEndpoints.ContainsKey(hostname);

    /// <summary>The node's engine; a refusal naming the node when SWARM_NODE_ENDPOINTS has no endpoint for it.</summary>
    public DockerContainerRuntime For(string hostname)
    {
        if (!settings.NodeEndpoints.TryGetValue(hostname, out var endpoint))
            throw new EngineRefusedException(
                $"the node {hostname} has no engine endpoint in {SwarmSettings.Keys.NodeEndpoints}, so Dockhand cannot reach the container there; add {hostname}=unix:///… or {hostname}=tcp://…:2376 to it",
                EngineRefusal.Other);
        lock (_lock)
        {
            if (!_engines.TryGetValue(hostname, out var engine))
            {
                engine = new DockerContainerRuntime(options with { DockerHost = endpoint }, time, loggers.CreateLogger<DockerContainerRuntime>(),
                    endpoint.Scheme == "tcp" ? SwarmTls.Load(settings.TlsCertPath) : null);
                _engines[hostname] = engine;
            }
            return engine;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var engine in _engines.Values)
                engine.Dispose();
            _engines.Clear();
        }
    }
}
