using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Dockhand.Containers.Storage;

/// <summary>
/// Proof, on one host, that the process doing an operation is still alive. A process that starts a create or destroy
/// takes an exclusive <c>flock(2)</c> on its own file in <c>DATABASE_PATH.leases/</c> and holds it until it exits; the
/// kernel drops the lock when the process dies, however it dies (SIGKILL included). The row's operation_process holds
/// <c>lease:&lt;id&gt;</c>. Another process asks "is it alive?" by trying to take the same lock: it can only succeed
/// once the holder is gone, so a live process is never taken for a dead one.
/// </summary>
/// <remarks>
/// The previous proof compared a pid and a process start time read in two different processes; .NET computes the
/// start time from the boot time and the two readings differed by milliseconds, so a live CLI looked dead to the bot.
/// A lock has no such reading to disagree about. What it cannot prove: liveness of a process on another host (the lease
/// file is local to the database's directory, and flock over NFS is not reliable). Processes that share one database
/// must run on one host; docs/containers.md says so (PostgreSQL has its own proof, <see cref="PostgresLease"/>). <c>flock</c> is called directly rather than through FileShare,
/// which .NET lets an environment variable turn off.
/// </remarks>
internal sealed partial class ProcessLease : IOperationLease
{
    private const string Prefix = "lease:";
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int LockUnlock = 8;
    private const int OpenReadWrite = 2;
    private const int OpenCreate = 0x40;
    private const int OpenCloseOnExec = 0x80000;
    private const int NoSuchFile = 2;

    private readonly string _directory;
    private readonly Lock _gate = new();
    private int _descriptor = -1;
    private string? _token;

    public ProcessLease(string databasePath)
    {
        _directory = databasePath + ".leases";
    }

    /// <summary>The token this process writes into operation_process. The lease is taken at first use.</summary>
    public string Current
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_descriptor == -2, this);
                return _token ??= Acquire();
            }
        }
    }

    /// <summary>
    /// True while the process that wrote <paramref name="operationProcess"/> runs. Legacy values ("pid:start ticks", written
    /// by earlier versions) count as alive while a process with that pid exists: a reused pid can only delay a clean-up.
    /// </summary>
    public bool IsAlive(string? operationProcess)
    {
        if (operationProcess is null)
            return false;
        lock (_gate)
        {
            if (operationProcess == _token)
                return true;
        }
        if (!operationProcess.StartsWith(Prefix, StringComparison.Ordinal))
            return IsLegacyProcessAlive(operationProcess);
        var id = operationProcess[Prefix.Length..];
        if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower))
            return false;
        var path = Path.Combine(_directory, id + ".lock");
        var descriptor = Native.Open(path, OpenReadWrite | OpenCloseOnExec, 0);
        if (descriptor < 0)
            return Marshal.GetLastPInvokeError() != NoSuchFile;
        try
        {
            if (Native.Flock(descriptor, LockExclusive | LockNonBlocking) != 0)
                return true;
            // We hold the lock, so its owner is gone: tidy its file away while no one else can take it.
            TryDelete(path);
            Native.Flock(descriptor, LockUnlock);
            return false;
        }
        finally
        {
            Native.Close(descriptor);
        }
    }

    private string Acquire()
    {
        Directory.CreateDirectory(_directory);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var path = Path.Combine(_directory, id + ".lock");
        var descriptor = Native.Open(path, OpenReadWrite | OpenCreate | OpenCloseOnExec, Convert.ToInt32("600", 8));
        if (descriptor < 0)
            throw new IOException($"cannot create the lease file {path} (errno {Marshal.GetLastPInvokeError()}); check that the database's directory is writable");
        if (Native.Flock(descriptor, LockExclusive | LockNonBlocking) != 0)
        {
            Native.Close(descriptor);
            throw new IOException($"cannot lock the lease file {path} (errno {Marshal.GetLastPInvokeError()}); the file system must support flock");
        }
        _descriptor = descriptor;
        return Prefix + id;
    }

    private static bool IsLegacyProcessAlive(string operationProcess)
    {
        var parts = operationProcess.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid) || pid <= 0)
            return false;
        return Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_descriptor >= 0 && _token is not null)
            {
                TryDelete(Path.Combine(_directory, _token[Prefix.Length..] + ".lock"));
                Native.Close(_descriptor);
            }
            _descriptor = -2;
        }
    }

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags, int mode);

        [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
        public static partial int Flock(int descriptor, int operation);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int descriptor);
    }
}
