namespace Dockhand.Containers;

/// <summary>
/// The rules: one container per owner, valid unique names, hardened defaults, idempotent destroy.
/// Every method answers with a result record; exceptions mean a bug or broken infrastructure.
/// </summary>
public sealed class ContainerService
{
    // CONTRACT ONLY (skeleton): the container-core work fills these in. Signatures are relied on by the bot and the CLI.
    public Task<CreateResult> CreateAsync(CreateRequest request, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    public Task<DestroyResult> DestroyAsync(OwnerId owner, Actor actor, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    public Task<StatusResult> StatusAsync(OwnerId owner, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    /// <summary>A page of records ordered by creation time, joined with the live state from one engine call.</summary>
    public Task<ContainerPage> ListAsync(int pageIndex, int pageSize, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    public Task<StatusResult> ApplyAsync(OwnerId owner, LifecycleAction action, Actor actor, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    /// <summary>The owner's record, without asking the engine. Null when the owner has none.</summary>
    public Task<ContainerRecord?> FindAsync(OwnerId owner, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();
}
