namespace Dockhand.Containers.Engine;

/// <summary>
/// Whether the engine can enforce CONTAINER_DISK_LIMIT (the storage option "size" on a container's writable layer), and
/// why, in words for operators.
/// </summary>
/// <remarks>
/// Docker enforces "size" with overlay2 only on xfs mounted with project quotas (pquota; the engine refuses every create
/// with the option otherwise: "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"), and
/// with devicemapper, btrfs (with quotas enabled), zfs and, on Windows, windowsfilter. Other drivers refuse or ignore
/// it. The API does not say whether xfs is mounted with pquota or btrfs quotas are on, so those two are accepted and
/// an engine that lacks them refuses the first create with its own reason.
/// </remarks>
public sealed record DiskLimitSupport(bool Enforceable, string Explanation)
{
    public static DiskLimitSupport Evaluate(EngineStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var driver = storage.Driver.ToLowerInvariant();
        var fs = storage.BackingFilesystem?.ToLowerInvariant();
        return driver switch
        {
            "overlay2" when fs == "xfs" => new(true, $"the engine stores containers with {storage}, which enforces a size limit when that file system is mounted with pquota (the engine refuses creates otherwise)"),
            "devicemapper" or "zfs" or "windowsfilter" => new(true, $"the engine's storage driver {storage.Driver} enforces a size limit"),
            "btrfs" => new(true, $"the engine's storage driver btrfs enforces a size limit when quotas are enabled on its file system (btrfs quota enable)"),
            "overlay2" => new(false, $"the engine stores containers with {storage}, and Docker enforces a container size with overlay2 only on xfs mounted with pquota (or with devicemapper, btrfs or zfs)"),
            _ => new(false, $"the engine's storage driver is {storage}, and Docker enforces a container size only with overlay2 on xfs mounted with pquota, devicemapper, btrfs or zfs"),
        };
    }
}
