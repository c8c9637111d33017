namespace Dockhand.Containers;

/// <summary>A container Dockhand manages, as recorded in the database.</summary>
public sealed record ContainerRecord(OwnerId Owner, string Name, string ContainerId, string Image, DateTimeOffset CreatedAt);

/// <summary>What the engine says about a recorded container right now.</summary>
public enum LiveState
{
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    /// <summary>Recorded, but the engine no longer has it (removed behind Dockhand's back).</summary>
    Missing,
}

/// <summary>A record joined with the engine's live view. Usage figures are null where the engine gives none.</summary>
public sealed record ContainerStatus(
    ContainerRecord Record,
    LiveState State,
    DateTimeOffset? StartedAt,
    double? CpuPercent,
    ulong? MemoryUsageBytes,
    ulong? MemoryLimitBytes)
{
    /// <summary>The owner's home volume, when home volumes are on and it exists; set by status, left null by create and list.</summary>
    public HomeVolume? Home { get; init; }

    /// <summary>
    /// Set by status when the container is stopped because idle culling stopped it: the idle time it was stopped after
    /// ("8h"), as <see cref="Culling.DurationText"/> writes it. Null otherwise.
    /// </summary>
    public string? StoppedIdleAfter { get; init; }

    /// <summary>On a Swarm (CONTAINER_BACKEND=swarm), set by status: the task's node, its state and the task's state. Null otherwise.</summary>
    public TaskPlacement? Placement { get; init; }
}

/// <summary>An owner's home volume (CONTAINER_VOLUME_PATH).</summary>
public sealed record HomeVolume(OwnerId Owner, string Name);

/// <summary>What happened to the owner's home volume when their container was destroyed.</summary>
public enum HomeOutcome
{
    /// <summary>Home volumes are off, or the owner had none.</summary>
    None,
    /// <summary>The volume stays; the owner's next create mounts it again.</summary>
    Kept,
    /// <summary>The volume was removed with its files (destroy with purge).</summary>
    Purged,
}

/// <summary>One page of <see cref="ContainerService.ListAsync"/>; <paramref name="Total"/> counts every record.</summary>
public sealed record ContainerPage(IReadOnlyList<ContainerStatus> Items, int PageIndex, int PageSize, int Total)
{
    public int PageCount => Total == 0 ? 1 : (Total + PageSize - 1) / PageSize;
}

public sealed record CreateRequest(OwnerId Owner, string Name, string? Image, Actor Actor);

/// <summary>Progress of an image pull, for progress bars and Discord edits.</summary>
public sealed record PullProgress(string Image, string Status, long? CurrentBytes, long? TotalBytes);

/// <summary>
/// Every refusal carries one sentence a user can act on (<see cref="Message"/>, shown to Discord users: never engine
/// detail such as host addresses, socket paths or runtime errors) and, for engine failures, the engine's own words in
/// <see cref="Detail"/> for operators (CLI output, audit log, logs).
/// </summary>
public abstract record ContainerRefusal(string Message)
{
    /// <summary>Operator-facing detail from the engine (its message or the transport failure); null when there is none.</summary>
    public virtual string? Detail => null;
}

public abstract record CreateResult
{
    private CreateResult() { }

    /// <param name="HomeRestored">True when the owner's kept home volume (from an earlier container) was mounted again.</param>
    public sealed record Created(ContainerStatus Status, bool HomeRestored = false) : CreateResult;

    public sealed record Refused(ContainerRefusal Reason) : CreateResult;
}

public abstract record DestroyResult
{
    private DestroyResult() { }

    /// <summary>The container and its record are gone. <paramref name="Record"/> is null when there was nothing to destroy.</summary>
    public sealed record Destroyed(ContainerRecord? Record, HomeOutcome Home = HomeOutcome.None) : DestroyResult;

    public sealed record Refused(ContainerRefusal Reason) : DestroyResult;
}

public abstract record StatusResult
{
    private StatusResult() { }

    public sealed record Found(ContainerStatus Status) : StatusResult;

    public sealed record Refused(ContainerRefusal Reason) : StatusResult;
}

public enum LifecycleAction
{
    Start,
    Stop,
    Restart,
}

/// <summary>Closed set of refusals. Messages are written for the person who asked.</summary>
public static class Refusals
{
    public sealed record AlreadyHasContainer(ContainerRecord Existing)
        : ContainerRefusal($"That user already has a container, '{Existing.Name}'. Destroy it first, or use the one they have.");

    public sealed record NameTaken(string Name)
        : ContainerRefusal($"The name '{Name}' is already in use. Pick another name.");

    public sealed record InvalidName(string Name)
        : ContainerRefusal($"'{Name}' is not a valid container name: use letters, digits, '_', '.' or '-', starting with a letter or digit (at most 63 characters).");

    public sealed record ImageNotAllowed(string Image, IReadOnlyList<string> Allowed)
        : ContainerRefusal($"The image '{Image}' is not on this server's allowlist. Choose one of: {string.Join(", ", Allowed)}.");

    /// <summary><paramref name="EngineReason"/> is for operators; the message keeps only a classified reason.</summary>
    public sealed record ImageUnavailable(string Image, string EngineReason)
        : ContainerRefusal($"The image '{Image}' could not be pulled{ClassifyPullFailure(EngineReason) switch { { } r => $" ({r})", null => "" }}. Check the name and tag, or ask an operator to load it.")
    {
        public override string? Detail => EngineReason;
    }

    public sealed record NoContainer(OwnerId Owner)
        : ContainerRefusal("That user has no container. An authorised user can make one with /create.");

    /// <summary><paramref name="EngineReason"/> (e.g. "connection refused at tcp://…") is for operators only.</summary>
    public sealed record EngineUnavailable(string EngineReason)
        : ContainerRefusal("The Docker engine cannot be reached right now. Try again shortly, or ask an operator to check it.")
    {
        public override string? Detail => EngineReason;
    }

    public sealed record Busy(OwnerId Owner)
        : ContainerRefusal("Another operation on that user's container is in progress. Try again in a moment.");

    public sealed record InvalidImage(string Image)
        : ContainerRefusal($"'{Image}' is not a valid image reference: use a name like ubuntu:24.04 or registry.example.com/team/image:tag.");

    public sealed record ContainerMissing(ContainerRecord Record)
        : ContainerRefusal($"The container '{Record.Name}' was removed outside Dockhand. Destroy it, then create a new one.");

    public sealed record HomeVolumeNotOurs(string VolumeName)
        : ContainerRefusal("A volume with this user's home volume name exists that this Dockhand did not create. Ask an operator to check the engine's volumes.")
    {
        public override string? Detail => $"volume {VolumeName} lacks this instance's labels";
    }

    /// <summary>The container network cannot be used safely; <paramref name="Problem"/> (one sentence) is for operators.</summary>
    public sealed record NetworkNotUsable(string Network, string Problem)
        : ContainerRefusal("Containers cannot be created until an operator fixes this server's container network. Nothing was created.")
    {
        public override string? Detail => Problem;
    }

    /// <summary>CONTAINER_DISK_LIMIT is set but the engine cannot enforce it; <paramref name="Problem"/> says why, for operators.</summary>
    public sealed record DiskLimitNotEnforceable(string Problem)
        : ContainerRefusal("Containers cannot be created until an operator fixes this server's disk limit setting. Nothing was created.")
    {
        public override string? Detail => Problem;
    }

    /// <summary>The backend cannot run the container where it must (a Swarm's "no suitable node", "image missing on the node"): one sentence from the backend.</summary>
    public sealed record CannotPlace(string Sentence) : ContainerRefusal(Sentence);

    /// <summary><paramref name="EngineReason"/> (the engine's message, may name host paths) is for operators only.</summary>
    public sealed record EngineRefused(string EngineReason)
        : ContainerRefusal("The Docker engine refused the request. Ask an operator to check the engine and Dockhand's settings.")
    {
        public override string? Detail => EngineReason;
    }

    /// <summary>A short reason safe to show users, when the engine's pull error is a known kind; otherwise null.</summary>
    internal static string? ClassifyPullFailure(string engineReason)
    {
        if (Has("pull access denied") || Has("unauthorized") || Has("authentication required") || Has("denied"))
            return "pull access denied";
        if (Has("manifest unknown") || Has("not found") || Has("does not exist") || Has("no such image"))
            return "not found";
        if (Has("toomanyrequests") || Has("rate limit"))
            return "registry rate limit";
        return null;

        bool Has(string text) => engineReason.Contains(text, StringComparison.OrdinalIgnoreCase);
    }
}
