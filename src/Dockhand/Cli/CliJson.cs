using System.Text.Json;
using System.Text.Json.Serialization;
using Dockhand.Containers;

namespace Dockhand.Cli;

/// <summary><paramref name="Detail"/>: the engine's own words for an engine failure (omitted when there are none).</summary>
internal sealed record CliError(string Error, string Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null);

internal sealed record CliContainer(string Owner, string Name, string ContainerId, string Image, DateTimeOffset CreatedAt, string State,
    DateTimeOffset? StartedAt, double? CpuPercent, ulong? MemoryUsageBytes, ulong? MemoryLimitBytes)
{
    public static CliContainer From(ContainerStatus s) => new(s.Record.Owner.ToString(), s.Record.Name, s.Record.ContainerId, s.Record.Image,
        s.Record.CreatedAt, s.State.ToString().ToLowerInvariant(), s.StartedAt, s.CpuPercent, s.MemoryUsageBytes, s.MemoryLimitBytes);
}

internal sealed record CliContainerList(IReadOnlyList<CliContainer> Containers, int Total);

internal sealed record CliDestroyed(bool Destroyed, string Owner, string? Name, string? ContainerId);

internal sealed record CliCheck(string Name, bool Ok, string Detail);

internal sealed record CliDoctor(bool Ok, IReadOnlyList<CliCheck> Checks);

internal sealed record CliReconcile(int RolledBackCreates, int FinishedDestroys, int RemovedOrphans, int AdoptedOrphans, int MissingContainers);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(CliError))]
[JsonSerializable(typeof(CliContainer))]
[JsonSerializable(typeof(CliContainerList))]
[JsonSerializable(typeof(CliDestroyed))]
[JsonSerializable(typeof(CliDoctor))]
[JsonSerializable(typeof(CliReconcile))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
