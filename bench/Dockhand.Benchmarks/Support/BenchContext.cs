using System.Text.Json.Nodes;

namespace Dockhand.Benchmarks.Support;

/// <summary>The command line's choices that figures read.</summary>
internal sealed record BenchSettings(bool Quick, int ScaleContainers, int ScaleParallelism);

/// <summary>
/// What a figure gets: the environment (loopback Discord, engine client, main server), the settings, the log, the
/// containers made through the bot for the terminal figures (shared so P2-P4 reuse them), and the profile P1 leaves
/// for latest.json.
/// </summary>
internal sealed class BenchContext(BenchEnvironment env, BenchSettings settings, Action<string> log)
{
    private readonly List<(ulong Owner, string ContainerId)> _terminalContainers = [];

    public BenchEnvironment Env => env;

    public BenchSettings Settings => settings;

    public bool Quick => settings.Quick;

    /// <summary>Engine-socket timelines of ContainerService (set by P1), written under "profile" in latest.json.</summary>
    public JsonObject? Profile { get; set; }

    public void Log(string line) => log(line);

    /// <summary>The <paramref name="index"/>-th container made through the bot's /create for the terminal figures.</summary>
    public async Task<(ulong Owner, string ContainerId)> TerminalContainerAsync(int index, CancellationToken cancellationToken)
    {
        while (_terminalContainers.Count <= index)
            _terminalContainers.Add(await env.CreateThroughBotAsync($"bench-{env.RunId}-t{_terminalContainers.Count}", cancellationToken));
        return _terminalContainers[index];
    }

    /// <summary>A container the bot made elsewhere (P1's rounds) that the terminal figures may reuse.</summary>
    public void AddBotContainer(ulong owner, string containerId) => _terminalContainers.Add((owner, containerId));

    public Task<Uri> IssueLinkAsync(ulong owner, string containerId, CancellationToken cancellationToken)
        => TerminalLinkIssuer.IssueAsync(env.DatabasePath, env.Server!.BaseAddress, owner, containerId, cancellationToken);

    public async Task<TerminalSocket> OpenTerminalAsync(ulong owner, string containerId, CancellationToken cancellationToken)
        => await TerminalSocket.OpenAsync(env.Server!.BaseAddress, await IssueLinkAsync(owner, containerId, cancellationToken), cancellationToken);
}
