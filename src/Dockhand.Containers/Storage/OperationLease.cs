namespace Dockhand.Containers.Storage;

/// <summary>
/// Proof that the process doing a create or destroy is alive. The process writes <see cref="Current"/> into the row's
/// operation_process; anyone may ask <see cref="IsAlive"/> about a token, and may finish or roll back the operation only
/// when the answer is false. A live process must never be taken for a dead one; a dead one may look alive for a while
/// (that only delays a clean-up). SQLite: <see cref="ProcessLease"/> (flock, one host). PostgreSQL: <see cref="PostgresLease"/>.
/// </summary>
internal interface IOperationLease : IDisposable
{
    /// <summary>This process's token, taken at first use and held until the process ends or the lease is disposed.</summary>
    string Current { get; }

    bool IsAlive(string? operationProcess);
}
