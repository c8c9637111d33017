using System.Text.Json;
using System.Text.Json.Serialization;
using Dockhand.Containers;

namespace Dockhand.Cli;

/// <summary><paramref name="Detail"/>: the engine's own words for an engine failure (omitted when there are none).</summary>
internal sealed record CliError(string Error, string Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null);

/// <param name="HomeVolume">The owner's home volume when one exists (status and list), else null.</param>
/// <param name="Node">On a Swarm (status): the task's node, its state and the task's state; omitted otherwise.</param>
internal sealed record CliContainer(string Owner, string Name, string ContainerId, string Image, DateTimeOffset CreatedAt, string State,
    DateTimeOffset? StartedAt, double? CpuPercent, ulong? MemoryUsageBytes, ulong? MemoryLimitBytes, string? HomeVolume,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] CliNode? Node = null)
{
    public static CliContainer From(ContainerStatus s) => new(s.Record.Owner.ToString(), s.Record.Name, s.Record.ContainerId, s.Record.Image,
        s.Record.CreatedAt, s.State.ToString().ToLowerInvariant(), s.StartedAt, s.CpuPercent, s.MemoryUsageBytes, s.MemoryLimitBytes, s.Home?.Name,
        s.Placement is { } p ? new CliNode(p.Node, p.NodeState, p.TaskState, p.TaskError) : null);
}

internal sealed record CliNode(string Hostname, string State, string TaskState,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TaskError);

internal sealed record CliHome(string Owner, string Volume);

/// <param name="Instance">This database's instance id (the dockhand.instance label).</param>
/// <param name="KeptHomes">Home volumes whose owner has no container (kept after a destroy).</param>
internal sealed record CliContainerList(string Instance, IReadOnlyList<CliContainer> Containers, int Total, IReadOnlyList<CliHome> KeptHomes);

/// <param name="Home">What happened to the home volume: none, kept or purged.</param>
internal sealed record CliDestroyed(bool Destroyed, string Owner, string? Name, string? ContainerId, string Home);

internal sealed record CliCheck(string Name, bool Ok, string Detail);

internal sealed record CliDoctor(bool Ok, IReadOnlyList<CliCheck> Checks);

internal sealed record CliReconcile(int RolledBackCreates, int FinishedDestroys, int RemovedOrphans, int AdoptedOrphans, int StoppedOrphans,
    int MissingContainers, int ForeignContainers, int HeldBackRemovals)
{
    public static CliReconcile From(ReconcileReport r) => new(r.RolledBackCreates, r.FinishedDestroys, r.RemovedOrphans, r.AdoptedOrphans, r.StoppedOrphans,
        r.MissingContainers, r.ForeignContainers, r.HeldBackRemovals);
}

internal sealed record CliBackup(string Database, string Backup, string Instance, int SchemaVersion, long Containers, long AuditEntries, long TerminalLinks);

/// <summary>dockhand migrate-store: rows inserted per table, rows the source holds, and the seed tokens left out.</summary>
internal sealed record CliStoreCopy(string From, string To, string Instance, long Containers, long AuditEntries, long TerminalLinks,
    long SourceContainers, long SourceAuditEntries, long SourceTerminalLinks, long SkippedSeedTokens);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(CliError))]
[JsonSerializable(typeof(CliContainer))]
[JsonSerializable(typeof(CliContainerList))]
[JsonSerializable(typeof(CliDestroyed))]
[JsonSerializable(typeof(CliDoctor))]
[JsonSerializable(typeof(CliReconcile))]
[JsonSerializable(typeof(CliBackup))]
[JsonSerializable(typeof(CliStoreCopy))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
