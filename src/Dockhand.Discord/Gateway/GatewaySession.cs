using Dockhand.Discord.Gateway.JsonModels;

namespace Dockhand.Discord.Gateway;

/// <summary>
/// What outlives one connection: the session READY started (id, resume URL), the last dispatch sequence, and the
/// application id. Read by any thread, written by the receive loop and the supervisor.
/// </summary>
internal sealed class GatewaySession
{
    private string? _sessionId;
    private Uri? _resumeUrl;
    private long _lastSequence = -1;
    private long _applicationId;
    private int _skipResumeUrlOnce;

    public string? SessionId => Volatile.Read(ref _sessionId);

    public Snowflake? ApplicationId => Interlocked.Read(ref _applicationId) is var id and not 0 ? new Snowflake((ulong)id) : null;

    public long? LastSequence => Interlocked.Read(ref _lastSequence) is var s and >= 0 ? s : null;

    /// <summary>A Resume (op 6) needs both a session id and a sequence.</summary>
    public bool CanResume => SessionId is not null && LastSequence is not null;

    public void RecordSequence(long sequence) => Interlocked.Exchange(ref _lastSequence, sequence);

    /// <summary>Takes the session READY started; returns the resume URL it gave (null when none or not a URL).</summary>
    public Uri? Start(JsonReady ready)
    {
        var resumeUrl = Uri.TryCreate(ready.ResumeGatewayUrl, UriKind.Absolute, out var url) ? url : null;
        Volatile.Write(ref _sessionId, ready.SessionId);
        Volatile.Write(ref _resumeUrl, resumeUrl);
        if (ready.Application is { Id: var id })
            Interlocked.Exchange(ref _applicationId, (long)id.Value);
        return resumeUrl;
    }

    /// <summary>
    /// Where to resume: READY's resume URL, unless the last resume attempt could not connect to it; that once, null
    /// (use the gateway URL, still resuming). The resume URL stays the one for the attempts after that.
    /// </summary>
    public Uri? TakeResumeUrl() =>
        Interlocked.Exchange(ref _skipResumeUrlOnce, 0) == 1 ? null : Volatile.Read(ref _resumeUrl);

    /// <summary>Takes a session another process (or an earlier run) saved: the next connection resumes it.</summary>
    public void Restore(GatewaySessionCheckpoint checkpoint)
    {
        Volatile.Write(ref _sessionId, checkpoint.SessionId);
        Volatile.Write(ref _resumeUrl, checkpoint.ResumeUrl);
        Interlocked.Exchange(ref _lastSequence, checkpoint.Sequence);
    }

    /// <summary>The session as it can be resumed now (null before READY).</summary>
    public GatewaySessionCheckpoint? Snapshot(long sequence) =>
        SessionId is { } id ? new GatewaySessionCheckpoint(id, Volatile.Read(ref _resumeUrl), sequence) : null;

    public void SkipResumeUrlOnce() => Volatile.Write(ref _skipResumeUrlOnce, 1);

    /// <summary>The session is gone (op 9 d:false, or a close code that ends it): the next connection identifies.</summary>
    public void Clear()
    {
        Volatile.Write(ref _sessionId, null);
        Volatile.Write(ref _resumeUrl, null);
        Interlocked.Exchange(ref _lastSequence, -1);
    }
}
