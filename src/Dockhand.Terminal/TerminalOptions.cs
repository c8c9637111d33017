using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Terminal;

/// <summary>
/// Settings of the web terminal, bound from flat configuration keys (environment variables, <c>.env</c>, appsettings):
/// <list type="bullet">
/// <item><c>TERMINAL_SERVICE_URL</c>: public base URL used in links (default <c>http://localhost:5000</c>). https turns on Secure cookies.</item>
/// <item><c>TERMINAL_TOKEN_TTL</c>: how long a link and its session live (default 1 h). Seconds (<c>3600</c>), a time span (<c>01:00:00</c>) or a number with a unit s/m/h/d (<c>60m</c>).</item>
/// <item><c>TERMINAL_REATTACH_GRACE</c>: how long a session waits for the page to re-attach after its socket closed (default 10 s; same formats).</item>
/// <item><c>TERMINAL_MAX_SESSIONS</c>: live terminal sessions per owner (default 3); a newer one ends the oldest.</item>
/// <item><c>TERMINAL_LINKS_PER_MINUTE</c>: links issued per owner in any 60 s (default 5); more are refused with when to try again.</item>
/// <item><c>TRUSTED_PROXIES</c>: comma-separated proxy addresses or CIDR networks whose X-Forwarded-* headers are honoured (loopback always is).</item>
/// </list>
/// </summary>
public sealed class TerminalOptions
{
    public const string ServiceUrlKey = "TERMINAL_SERVICE_URL";
    public const string TokenTtlKey = "TERMINAL_TOKEN_TTL";
    public const string ReattachGraceKey = "TERMINAL_REATTACH_GRACE";
    public const string TrustedProxiesKey = "TRUSTED_PROXIES";
    public const string MaxSessionsKey = "TERMINAL_MAX_SESSIONS";
    public const string LinksPerMinuteKey = "TERMINAL_LINKS_PER_MINUTE";

    /// <summary>Public base URL of the service, as users reach it (behind a proxy: the proxy's https URL).</summary>
    public Uri ServiceUrl { get; set; } = new("http://localhost:5000");

    public TimeSpan TokenTimeToLive { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan ReattachGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Live sessions one owner may hold; opening one more ends the oldest.</summary>
    public int MaxSessionsPerOwner { get; set; } = 3;

    /// <summary>Links one owner may be issued in any one-minute window.</summary>
    public int LinksPerMinute { get; set; } = 5;

    /// <summary>How long a new session waits for its first WebSocket (page load) before it is dropped.</summary>
    public TimeSpan FirstAttachTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often a live session checks that its container still runs (engine events are not relied upon).</summary>
    public TimeSpan ContainerPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often expired links are deleted from the database.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long an expired link is kept before the sweep deletes it, so a late click still hears "expired", not "unknown".</summary>
    public TimeSpan ExpiredLinkRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Recent output kept per session and replayed on re-attach.</summary>
    public int ReplayBufferBytes { get; set; } = 64 * 1024;

    /// <summary>Largest single read from the exec stream (one WebSocket frame).</summary>
    public int ReadBufferBytes { get; set; } = 16 * 1024;

    /// <summary>Proxies (addresses or networks) whose forwarded headers are honoured, besides loopback.</summary>
    public IList<IPNetwork> TrustedProxies { get; } = [];

    internal bool SecureCookies => ServiceUrl.Scheme == Uri.UriSchemeHttps;

    /// <summary>Reads the flat keys. Every problem becomes one line that names its key.</summary>
    public static TerminalOptions Bind(IConfiguration configuration, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = new List<string>();
        var options = new TerminalOptions();

        var url = configuration[ServiceUrlKey];
        if (!string.IsNullOrWhiteSpace(url))
        {
            if (Uri.TryCreate(url.Trim(), UriKind.Absolute, out var parsed) && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps)
                && string.IsNullOrEmpty(parsed.Query) && string.IsNullOrEmpty(parsed.Fragment))
                options.ServiceUrl = parsed;
            else
                problems.Add($"{ServiceUrlKey}: '{url}' is not an absolute http:// or https:// URL without query (e.g. https://dockhand.example.org).");
        }

        ReadDuration(configuration, TokenTtlKey, value => options.TokenTimeToLive = value, TimeSpan.FromSeconds(30), TimeSpan.FromDays(7), problems);
        ReadDuration(configuration, ReattachGraceKey, value => options.ReattachGrace = value, TimeSpan.Zero, TimeSpan.FromMinutes(10), problems);

        ReadCount(configuration, MaxSessionsKey, value => options.MaxSessionsPerOwner = value, 1, 100, problems);
        ReadCount(configuration, LinksPerMinuteKey, value => options.LinksPerMinute = value, 1, 1000, problems);

        var proxies = configuration[TrustedProxiesKey];
        if (!string.IsNullOrWhiteSpace(proxies))
        {
            foreach (var entry in proxies.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (IPAddress.TryParse(entry, out var address))
                    options.TrustedProxies.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32));
                else if (IPNetwork.TryParse(entry, out var network))
                    options.TrustedProxies.Add(network);
                else
                    problems.Add($"{TrustedProxiesKey}: '{entry}' is not an IP address or CIDR network (e.g. 10.0.0.5 or 10.0.0.0/24).");
            }
        }

        errors = problems;
        return options;
    }

    private static void ReadCount(IConfiguration configuration, string key, Action<int> set, int min, int max, List<string> problems)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
            return;
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            problems.Add($"{key}: '{text}' is not a whole number between {min} and {max}.");
        else
            set(value);
    }

    private static void ReadDuration(IConfiguration configuration, string key, Action<TimeSpan> set, TimeSpan min, TimeSpan max, List<string> problems)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
            return;
        if (!TryParseDuration(text, out var value))
            problems.Add($"{key}: '{text}' is not a duration; use seconds (3600), hh:mm:ss (01:00:00) or a number with s, m, h or d (60m).");
        else if (value < min || value > max)
            problems.Add($"{key}: {text} is out of range; it must be between {min} and {max}.");
        else
            set(value);
    }

    /// <summary>Parses <c>3600</c> (seconds), <c>01:00:00</c>, or <c>90s</c>, <c>60m</c>, <c>1h</c>, <c>1d</c>; fractions such as <c>1.5h</c> are allowed.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        text = text.Trim();
        if (text.Contains(':', StringComparison.Ordinal))
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;

        var unit = char.ToLowerInvariant(text[^1]);
        var scale = unit switch { 's' => 1.0, 'm' => 60.0, 'h' => 3600.0, 'd' => 86400.0, _ => 0 };
        var number = scale == 0 ? text : text[..^1].TrimEnd();
        if (scale == 0)
            scale = 1.0;
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)
            || double.IsNaN(amount) || amount < 0 || amount * scale > TimeSpan.MaxValue.TotalSeconds / 2)
            return false;
        value = TimeSpan.FromSeconds(amount * scale);
        return true;
    }
}
