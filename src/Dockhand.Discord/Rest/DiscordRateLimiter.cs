using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Rest;

/// <summary>
/// Discord's REST rate limits: per-route buckets learnt from X-RateLimit-* headers (route → bucket hash, keyed with the
/// route's major parameters), the global limit of 50 requests per second (interaction and webhook routes exempt),
/// 429 pauses by scope, and the invalid-request counter (401/403/429 in 10 minutes; Discord bans at 10,000).
/// Requests on the same route are serialised, so a bucket is never exceeded once it is known.
/// Tracked state stays bounded: a route's lock is dropped when nobody holds or awaits it, and the buckets of interaction
/// and webhook routes (keyed by the interaction token) are forgotten once idle for the token's 15-minute life, after
/// which no request can use that key any more.
/// </summary>
internal sealed partial class DiscordRateLimiter(TimeProvider time, ILogger logger)
{
    public const int GlobalLimitPerSecond = 50;
    public const int InvalidRequestBanThreshold = 10_000;
    public static readonly TimeSpan InvalidRequestWindow = TimeSpan.FromMinutes(10);
    /// <summary>Warn at these counts, well before the ban.</summary>
    public static readonly int[] InvalidRequestWarnings = [1_000, 2_500, 5_000, 7_500, 9_000];
    /// <summary>An interaction token is valid for 15 minutes; its routes' buckets are useless after that.</summary>
    public static readonly TimeSpan TokenRouteLifetime = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, RouteLock> _routeLocks = [];
    private readonly Dictionary<string, string> _routeToBucket = [];
    private readonly Dictionary<string, BucketState> _buckets = [];
    private readonly Queue<GlobalSlot> _globalWindow = new();
    private readonly Queue<long> _invalid = new();
    private long _globalPausedUntil;
    private long _edgeBannedUntil;
    private long _nextSweep;
    private int _warnedLevel;

    /// <summary>The size of every table the limiter keeps (for tests: each must stay bounded).</summary>
    internal (int RouteLocks, int RouteTemplates, int Buckets) TrackedCounts
    {
        get
        {
            lock (_gate)
                return (_routeLocks.Count, _routeToBucket.Count, _buckets.Count);
        }
    }

    /// <summary>Invalid requests counted in the last 10 minutes.</summary>
    public int InvalidRequestCount
    {
        get
        {
            lock (_gate)
            {
                TrimInvalid(time.GetTimestamp());
                return _invalid.Count;
            }
        }
    }

    /// <summary>Waits for permission to send a request on <paramref name="route"/>, however long that takes.</summary>
    public Task<Lease> AcquireAsync(RouteKey route, CancellationToken cancellationToken = default) =>
        AcquireAsync(route, long.MaxValue, cancellationToken);

    /// <summary>
    /// Waits for permission to send a request on <paramref name="route"/>. Dispose the lease after updating from the
    /// response. When a wait would end after <paramref name="deadline"/> (a <see cref="TimeProvider"/> timestamp), throws
    /// <see cref="RateLimitWaitTooLongException"/> at once instead of waiting.
    /// </summary>
    public async Task<Lease> AcquireAsync(RouteKey route, long deadline, CancellationToken cancellationToken = default)
    {
        RouteLock routeLock;
        lock (_gate)
        {
            if (!_routeLocks.TryGetValue(route.Key, out routeLock!))
                _routeLocks[route.Key] = routeLock = new RouteLock();
            routeLock.Users++;
        }
        try
        {
            await routeLock.Semaphore.WaitAsync(cancellationToken);
        }
        catch
        {
            LeaveRoute(route, routeLock, held: false);
            throw;
        }
        try
        {
            var lease = new Lease(this, route, routeLock);
            while (true)
            {
                var wait = TryReserve(route, lease);
                if (wait <= TimeSpan.Zero)
                    return lease;
                if (deadline != long.MaxValue && time.GetTimestamp() + ToTicks(wait) > deadline)
                    throw new RateLimitWaitTooLongException(wait);
                await Task.Delay(wait, time, cancellationToken);
            }
        }
        catch
        {
            LeaveRoute(route, routeLock, held: true);
            throw;
        }
    }

    /// <summary>Gives up a route turn (releasing it when held); the lock is forgotten once nobody holds or awaits it.</summary>
    private void LeaveRoute(RouteKey route, RouteLock routeLock, bool held)
    {
        lock (_gate)
        {
            if (held)
                routeLock.Semaphore.Release();
            // Users counts holders and waiters and only changes under _gate, so at 0 nobody can be using this lock;
            // the next acquirer creates a fresh one.
            if (--routeLock.Users == 0 && _routeLocks.TryGetValue(route.Key, out var current) && ReferenceEquals(current, routeLock))
                _routeLocks.Remove(route.Key);
        }
    }

    private TimeSpan TryReserve(RouteKey route, Lease lease)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            // An edge ban is per IP: it covers every route, interaction ones included.
            if (now < _edgeBannedUntil)
                return time.GetElapsedTime(now, _edgeBannedUntil);
            // Interaction endpoints are not bound to the global limit (Rate Limits, "Global Rate Limit"), so a global
            // 429 must not hold a callback past its 3 s deadline.
            if (!route.GlobalExempt && now < _globalPausedUntil)
                return time.GetElapsedTime(now, _globalPausedUntil);
            BucketState? bucket = null;
            if (_routeToBucket.TryGetValue(route.Template, out var hash))
                _buckets.TryGetValue(BucketKey(hash, route), out bucket);
            bucket ??= _buckets.GetValueOrDefault(RouteBucketKey(route));
            if (bucket is not null)
            {
                bucket.LastUsed = now;
                if (now >= bucket.ResetAt)
                    bucket.Remaining = bucket.Limit;
                if (bucket.Remaining <= 0)
                    return time.GetElapsedTime(now, bucket.ResetAt) + TimeSpan.FromMilliseconds(1);
            }
            if (!route.GlobalExempt)
            {
                // A slot's time is its response time once it has one (the server counted the request no later than
                // that), and "now" while it is in flight: conservative whatever the latency.
                var windowStart = now - time.TimestampFrequency;
                while (_globalWindow.Count > 0 && _globalWindow.Peek().Completed is { } done && done <= windowStart)
                    _globalWindow.Dequeue();
                if (_globalWindow.Count >= GlobalLimitPerSecond)
                {
                    var oldest = _globalWindow.Peek().Completed;
                    return oldest is { } o ? time.GetElapsedTime(windowStart, o) + TimeSpan.FromMilliseconds(1) : TimeSpan.FromMilliseconds(10);
                }
                lease.GlobalSlot = new GlobalSlot();
                _globalWindow.Enqueue(lease.GlobalSlot);
            }
            if (bucket is not null)
            {
                bucket.Remaining--;
                bucket.InFlight++;
                lease.Reserved = bucket;
            }
            return TimeSpan.Zero;
        }
    }

    private static string BucketKey(string hash, RouteKey route) => hash + "|" + route.MajorParameters;

    private static string RouteBucketKey(RouteKey route) => "route:" + route.Key;

    /// <summary>Applies a response's rate-limit headers and status.</summary>
    internal void Update(RouteKey route, Lease lease, int status, RateLimitHeaders headers, RateLimitError? error)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            Complete(lease, now);
            SweepExpired(now);
            BucketState? bucket = null;
            if (headers.Bucket is { } hash)
            {
                _routeToBucket[route.Template] = hash;
                bucket = GetOrAddBucket(BucketKey(hash, route), route);
            }
            else if (headers.Limit is not null)
                bucket = GetOrAddBucket(RouteBucketKey(route), route);
            if (bucket is not null)
                bucket.LastUsed = now;
            if (bucket is not null && headers.Limit is { } limit && WindowOf(bucket, headers, now) is var window and not AnswerWindow.Earlier)
            {
                bucket.Limit = limit;
                var remaining = headers.Remaining ?? limit;
                // A new window (or a first sight) takes the server's count; within a window keep the lower count, since
                // requests on other routes of a shared bucket may be in flight.
                // Requests still in flight on this bucket will use up what the server reports as remaining.
                var effective = Math.Max(0, remaining - bucket.InFlight);
                bucket.Remaining = window == AnswerWindow.New ? effective : Math.Min(bucket.Remaining, effective);
                bucket.ResetAt = headers.ResetAfter is { } resetAfter ? now + ToTicks(resetAfter) : bucket.ResetAt;
                if (window == AnswerWindow.New || bucket.ServerReset is null)
                    bucket.ServerReset = headers.Reset;
            }

            if (status == 429 && error is not null)
            {
                var pause = now + ToTicks(error.RetryAfter);
                if (error.Global || string.Equals(headers.Scope, "global", StringComparison.OrdinalIgnoreCase))
                {
                    _globalPausedUntil = Math.Max(_globalPausedUntil, pause);
                    LogGlobalRateLimited(logger, error.RetryAfter.TotalMilliseconds);
                }
                else
                {
                    bucket ??= GetOrAddBucket(RouteBucketKey(route), route);
                    bucket.LastUsed = now;
                    bucket.Remaining = 0;
                    bucket.ResetAt = Math.Max(bucket.ResetAt, pause);
                    LogRouteRateLimited(logger, route.Template, headers.Scope ?? "user", error.RetryAfter.TotalMilliseconds);
                }
            }

            // Shared-scope 429s do not count towards the invalid-request limit.
            var invalid = status is 401 or 403 || (status == 429 && !string.Equals(headers.Scope, "shared", StringComparison.OrdinalIgnoreCase));
            if (invalid)
                CountInvalid(now);
        }
    }

    /// <summary>
    /// Pauses every route, interaction ones included, after a 429 that is not Discord's JSON (Cloudflare's temporary ban
    /// of the IP for too many invalid requests: Rate Limits, "Invalid Request Limit aka Cloudflare bans").
    /// </summary>
    internal void PauseForEdgeBan(TimeSpan retryAfter)
    {
        lock (_gate)
            _edgeBannedUntil = Math.Max(_edgeBannedUntil, time.GetTimestamp() + ToTicks(retryAfter));
        LogEdgeBan(logger, retryAfter.TotalSeconds);
    }

    /// <summary>Within this of each other, two window ends are one window's (the server rounds Reset to the millisecond).</summary>
    private static readonly TimeSpan SameWindow = TimeSpan.FromMilliseconds(50);

    private enum AnswerWindow
    {
        New,
        Same,
        Earlier,
    }

    /// <summary>
    /// Which window an answer belongs to, relative to the bucket's. By X-RateLimit-Reset when both have it: the server's
    /// own time, so an answer applied late (a busy machine, answers of two routes arriving out of order) is still told
    /// apart; an earlier window's answer is then ignored. Without it, by Reset-After read against the local clock.
    /// </summary>
    private AnswerWindow WindowOf(BucketState bucket, RateLimitHeaders headers, long now)
    {
        if (bucket.Remaining == int.MaxValue)
            return AnswerWindow.New;
        if (headers.Reset is { } reset && bucket.ServerReset is { } known)
            return reset > known + SameWindow ? AnswerWindow.New : reset < known - SameWindow ? AnswerWindow.Earlier : AnswerWindow.Same;
        var resetAt = headers.ResetAfter is { } resetAfter ? now + ToTicks(resetAfter) : bucket.ResetAt;
        return resetAt > bucket.ResetAt + ToTicks(SameWindow) ? AnswerWindow.New : AnswerWindow.Same;
    }

    private BucketState GetOrAddBucket(string key, RouteKey route)
    {
        if (!_buckets.TryGetValue(key, out var bucket))
            _buckets[key] = bucket = new BucketState { ExpiresWithToken = route.GlobalExempt };
        return bucket;
    }

    /// <summary>
    /// At most once a minute, forgets the buckets of interaction/webhook routes that have been idle for the token's
    /// 15-minute life (reset passed, nothing in flight): their key holds a token no request can use any more, so no
    /// known bucket is lost. Other routes are keyed by channel or guild and stay (bounded by what the bot talks to).
    /// </summary>
    private void SweepExpired(long now)
    {
        if (now < _nextSweep)
            return;
        _nextSweep = now + ToTicks(SweepInterval);
        var idleSince = now - ToTicks(TokenRouteLifetime);
        List<string>? expired = null;
        foreach (var (key, bucket) in _buckets)
            if (bucket.ExpiresWithToken && bucket.InFlight == 0 && bucket.LastUsed <= idleSince && now >= bucket.ResetAt)
                (expired ??= []).Add(key);
        foreach (var key in expired ?? [])
            _buckets.Remove(key);
    }

    private void Release(Lease lease)
    {
        lock (_gate)
            Complete(lease, time.GetTimestamp());
    }

    private void Complete(Lease lease, long now)
    {
        if (lease.GlobalSlot is { Completed: null } slot)
            slot.Completed = now;
        if (lease.Reserved is { } reserved)
        {
            reserved.InFlight--;
            lease.Reserved = null;
        }
    }

    private void CountInvalid(long now)
    {
        _invalid.Enqueue(now);
        TrimInvalid(now);
        var level = InvalidRequestWarnings.Count(w => _invalid.Count >= w);
        if (level > _warnedLevel)
            LogInvalidRequests(logger, _invalid.Count, InvalidRequestBanThreshold);
        _warnedLevel = level;
    }

    private void TrimInvalid(long now)
    {
        var windowStart = now - ToTicks(InvalidRequestWindow);
        while (_invalid.Count > 0 && _invalid.Peek() <= windowStart)
            _invalid.Dequeue();
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    internal sealed class GlobalSlot
    {
        public long? Completed { get; set; }
    }

    internal sealed class RouteLock
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);
        /// <summary>Holders plus waiters; changed only under the limiter's gate.</summary>
        public int Users { get; set; }
    }

    internal sealed class BucketState
    {
        /// <summary>An interaction/webhook route's bucket, keyed by a token that expires after 15 minutes.</summary>
        public bool ExpiresWithToken { get; init; }
        public long LastUsed { get; set; }
        public int InFlight { get; set; }
        public int Limit { get; set; } = int.MaxValue;
        public int Remaining { get; set; } = int.MaxValue;
        public long ResetAt { get; set; }
        /// <summary>The window's end by the server's clock (X-RateLimit-Reset), when Discord sent it.</summary>
        public DateTimeOffset? ServerReset { get; set; }
    }

    /// <summary>Holds the route's turn until the response has been applied.</summary>
    public sealed class Lease(DiscordRateLimiter owner, RouteKey route, RouteLock routeLock) : IDisposable
    {
        private int _disposed;

        internal BucketState? Reserved { get; set; }
        internal GlobalSlot? GlobalSlot { get; set; }

        public void Update(int status, RateLimitHeaders headers, RateLimitError? error) => owner.Update(route, this, status, headers, error);

        /// <summary>Releases the route. A lease disposed without an update (e.g. a failed send) still frees its reservations.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            owner.Release(this);
            owner.LeaveRoute(route, routeLock, held: true);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Discord global rate limit hit; pausing all REST calls for {RetryAfterMs} ms.")]
    private static partial void LogGlobalRateLimited(ILogger logger, double retryAfterMs);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Information, Message = "Discord rate limit on {Route} (scope {Scope}); retrying after {RetryAfterMs} ms.")]
    private static partial void LogRouteRateLimited(ILogger logger, string route, string scope, double retryAfterMs);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Error, Message = "Discord's edge answered 429 without Discord's JSON body (a temporary IP ban for too many invalid requests); pausing all REST calls, interaction replies included, for {RetryAfterSeconds} s.")]
    private static partial void LogEdgeBan(ILogger logger, double retryAfterSeconds);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "{Count} invalid Discord requests (401/403/429) in the last 10 minutes; Discord bans the IP at {Threshold}.")]
    private static partial void LogInvalidRequests(ILogger logger, int count, int threshold);
}

/// <summary>Waiting for a rate limit would take the call past its deadline; <see cref="Wait"/> is how long it would have waited.</summary>
internal sealed class RateLimitWaitTooLongException(TimeSpan wait) : Exception($"rate limited for another {wait.TotalSeconds:0.#} s")
{
    public TimeSpan Wait { get; } = wait;
}

/// <summary>The headers of a response that drive rate limiting.</summary>
/// <param name="Reset">X-RateLimit-Reset: the server's own time at which the window ends, the same in every answer of
/// one window, so it tells windows apart however late an answer is applied (Reset-After is relative to when it was sent).</param>
internal sealed record RateLimitHeaders(int? Limit, int? Remaining, TimeSpan? ResetAfter, string? Bucket, string? Scope, DateTimeOffset? Reset = null)
{
    public static RateLimitHeaders From(HttpResponseMessage response)
    {
        string? Get(string name) => response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : null;
        static int? Int(string? s) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;
        static TimeSpan? Seconds(string? s) =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && v < 86_400 ? TimeSpan.FromSeconds(v) : null;
        static DateTimeOffset? Epoch(string? s) =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && v < 253_402_300_799
                ? DateTimeOffset.UnixEpoch.AddMilliseconds(Math.Round(v * 1000)) : null;
        return new(Int(Get("X-RateLimit-Limit")), Int(Get("X-RateLimit-Remaining")), Seconds(Get("X-RateLimit-Reset-After")),
            Get("X-RateLimit-Bucket"), Get("X-RateLimit-Scope"), Epoch(Get("X-RateLimit-Reset")));
    }
}

internal sealed record RateLimitError(TimeSpan RetryAfter, bool Global);

/// <summary>
/// A route as rate limiting sees it: <see cref="Template"/> is the method plus the path with minor parameters
/// replaced, <see cref="MajorParameters"/> the values of the major ones (channel, guild, webhook id+token,
/// interaction id+token).
/// </summary>
internal sealed record RouteKey(string Template, string MajorParameters, bool GlobalExempt)
{
    public string Key => Template + "|" + MajorParameters;

    /// <summary>
    /// Builds the key from a method and a path relative to the API base, e.g. "users/123" → "GET /users/{id}". Values
    /// are named by what they are, never taken from the path, so the template of every call to one endpoint is the
    /// same string (an interaction callback is "POST /interactions/{interaction_id}/{interaction_token}/callback").
    /// </summary>
    public static RouteKey From(HttpMethod method, string path)
    {
        var segments = path.Trim('/').Split('/');
        var template = new List<string>(segments.Length);
        var major = new List<string>();
        for (var i = 0; i < segments.Length; i++)
        {
            var s = segments[i];
            // Top-level resources (Rate Limits): channel, guild, webhook id + token; interactions are keyed the same way.
            var name = (i > 0 ? segments[i - 1] : "", i > 1 ? segments[i - 2] : "") switch
            {
                ("channels", _) => "{channel_id}",
                ("guilds", _) => "{guild_id}",
                ("webhooks", _) => "{webhook_id}",
                (_, "webhooks") => "{webhook_token}",
                ("interactions", _) => "{interaction_id}",
                (_, "interactions") => "{interaction_token}",
                _ => null,
            };
            if (name is not null)
            {
                major.Add(s);
                template.Add(name);
            }
            else if (s.Length > 0 && s.All(char.IsAsciiDigit))
                template.Add("{id}");
            else
                template.Add(s);
        }
        var exempt = segments.Length > 0 && segments[0] is "interactions" or "webhooks";
        return new(method.Method + " /" + string.Join('/', template), string.Join('/', major), exempt);
    }
}
