using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

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
/// Bound straight from configuration (<c>services.AddOptions&lt;TerminalOptions&gt;().Bind(configuration)</c>) and checked
/// at start-up by <see cref="TerminalOptionsValidator"/> (source-generated). The binder converts numbers and URLs by
/// throwing, so the settings a person types as text (durations, counts, the proxy list) arrive through string setters
/// (<c>…Setting</c>) that parse them and keep the text for the one-line error that names the key.
/// </summary>
public sealed class TerminalOptions : IValidatableObject
{
    public const string ServiceUrlKey = "TERMINAL_SERVICE_URL";
    public const string TokenTtlKey = "TERMINAL_TOKEN_TTL";
    public const string ReattachGraceKey = "TERMINAL_REATTACH_GRACE";
    public const string TrustedProxiesKey = "TRUSTED_PROXIES";
    public const string MaxSessionsKey = "TERMINAL_MAX_SESSIONS";
    public const string LinksPerMinuteKey = "TERMINAL_LINKS_PER_MINUTE";

    private static readonly (TimeSpan Min, TimeSpan Max) TokenTtlRange = (TimeSpan.FromSeconds(30), TimeSpan.FromDays(7));
    private static readonly (TimeSpan Min, TimeSpan Max) ReattachGraceRange = (TimeSpan.Zero, TimeSpan.FromMinutes(10));
    private static readonly (int Min, int Max) MaxSessionsRange = (1, 100);
    private static readonly (int Min, int Max) LinksPerMinuteRange = (1, 1000);

    // The text each setting was given in (null when not set from configuration), and what was wrong with it.
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);
    private readonly List<(string Key, string Problem)> _parseErrors = [];

    /// <summary>Public base URL of the service, as users reach it (behind a proxy: the proxy's https URL).</summary>
    [Required]
    public Uri ServiceUrl { get; set; } = new("http://localhost:5000");

    /// <summary>TERMINAL_SERVICE_URL as given (an empty value keeps the default).</summary>
    [ConfigurationKeyName(ServiceUrlKey)]
    public string? ServiceUrlSetting
    {
        get => _texts.GetValueOrDefault(ServiceUrlKey);
        set
        {
            if (string.IsNullOrWhiteSpace(value))
                return;
            _texts[ServiceUrlKey] = value;
            if (Uri.TryCreate(value.Trim(), UriKind.Absolute, out var parsed))
                ServiceUrl = parsed;
            else
                _parseErrors.Add((ServiceUrlKey, UrlProblem(value)));
        }
    }

    public TimeSpan TokenTimeToLive { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan ReattachGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Live sessions one owner may hold; opening one more ends the oldest.</summary>
    public int MaxSessionsPerOwner { get; set; } = 3;

    /// <summary>Links one owner may be issued in any one-minute window.</summary>
    public int LinksPerMinute { get; set; } = 5;

    /// <summary>TERMINAL_TOKEN_TTL as given: seconds, hh:mm:ss, or a number with s, m, h or d.</summary>
    [ConfigurationKeyName(TokenTtlKey)]
    public string? TokenTimeToLiveSetting
    {
        get => _texts.GetValueOrDefault(TokenTtlKey);
        set => SetDuration(TokenTtlKey, value, parsed => TokenTimeToLive = parsed);
    }

    /// <summary>TERMINAL_REATTACH_GRACE as given (same forms).</summary>
    [ConfigurationKeyName(ReattachGraceKey)]
    public string? ReattachGraceSetting
    {
        get => _texts.GetValueOrDefault(ReattachGraceKey);
        set => SetDuration(ReattachGraceKey, value, parsed => ReattachGrace = parsed);
    }

    /// <summary>TERMINAL_MAX_SESSIONS as given.</summary>
    [ConfigurationKeyName(MaxSessionsKey)]
    public string? MaxSessionsSetting
    {
        get => _texts.GetValueOrDefault(MaxSessionsKey);
        set => SetCount(MaxSessionsKey, value, MaxSessionsRange, parsed => MaxSessionsPerOwner = parsed);
    }

    /// <summary>TERMINAL_LINKS_PER_MINUTE as given.</summary>
    [ConfigurationKeyName(LinksPerMinuteKey)]
    public string? LinksPerMinuteSetting
    {
        get => _texts.GetValueOrDefault(LinksPerMinuteKey);
        set => SetCount(LinksPerMinuteKey, value, LinksPerMinuteRange, parsed => LinksPerMinute = parsed);
    }

    /// <summary>TRUSTED_PROXIES as given: comma-separated addresses or CIDR networks.</summary>
    [ConfigurationKeyName(TrustedProxiesKey)]
    public string? TrustedProxiesSetting
    {
        get => _texts.GetValueOrDefault(TrustedProxiesKey);
        set
        {
            if (string.IsNullOrWhiteSpace(value))
                return;
            _texts[TrustedProxiesKey] = value;
            foreach (var entry in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (IPAddress.TryParse(entry, out var address))
                    TrustedProxies.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32));
                else if (IPNetwork.TryParse(entry, out var network))
                    TrustedProxies.Add(network);
                else
                    _parseErrors.Add((TrustedProxiesKey, $"{TrustedProxiesKey}: '{entry}' is not an IP address or CIDR network (e.g. 10.0.0.5 or 10.0.0.0/24)."));
            }
        }
    }

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
    // A field filled from TrustedProxiesSetting, so the binding generator never tries to bind IPNetwork itself.
    internal readonly List<IPNetwork> TrustedProxies = [];

    internal bool SecureCookies => ServiceUrl.Scheme == Uri.UriSchemeHttps;

    /// <summary>Every problem, one line each naming its key, in the order of the keys in the README.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var problems = new List<string>();
        if (!ParseProblems(ServiceUrlKey, problems) && (!ServiceUrl.IsAbsoluteUri || ServiceUrl.Scheme != Uri.UriSchemeHttp && ServiceUrl.Scheme != Uri.UriSchemeHttps
            || !string.IsNullOrEmpty(ServiceUrl.Query) || !string.IsNullOrEmpty(ServiceUrl.Fragment)))
            problems.Add(UrlProblem(_texts.GetValueOrDefault(ServiceUrlKey) ?? ServiceUrl.OriginalString));
        if (!ParseProblems(TokenTtlKey, problems))
            CheckRange(TokenTtlKey, TokenTimeToLive, TokenTtlRange, problems);
        if (!ParseProblems(ReattachGraceKey, problems))
            CheckRange(ReattachGraceKey, ReattachGrace, ReattachGraceRange, problems);
        if (!ParseProblems(MaxSessionsKey, problems))
            CheckRange(MaxSessionsKey, MaxSessionsPerOwner, MaxSessionsRange, problems);
        if (!ParseProblems(LinksPerMinuteKey, problems))
            CheckRange(LinksPerMinuteKey, LinksPerMinute, LinksPerMinuteRange, problems);
        ParseProblems(TrustedProxiesKey, problems);
        return problems.Select(p => new ValidationResult(p));
    }

    private static string UrlProblem(string text)
        => $"{ServiceUrlKey}: '{text}' is not an absolute http:// or https:// URL without query (e.g. https://dockhand.example.org).";

    /// <summary>Adds what could not be parsed for <paramref name="key"/>; true when there was something.</summary>
    private bool ParseProblems(string key, List<string> problems)
    {
        var before = problems.Count;
        problems.AddRange(_parseErrors.Where(e => e.Key == key).Select(e => e.Problem));
        return problems.Count > before;
    }

    private void SetDuration(string key, string? text, Action<TimeSpan> set)
    {
        if (string.IsNullOrWhiteSpace(text))
            return;
        _texts[key] = text;
        if (TryParseDuration(text, out var value))
            set(value);
        else
            _parseErrors.Add((key, $"{key}: '{text}' is not a duration; use seconds (3600), hh:mm:ss (01:00:00) or a number with s, m, h or d (60m)."));
    }

    private void SetCount(string key, string? text, (int Min, int Max) range, Action<int> set)
    {
        if (string.IsNullOrWhiteSpace(text))
            return;
        _texts[key] = text;
        if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            set(value);
        else
            _parseErrors.Add((key, $"{key}: '{text}' is not a whole number between {range.Min} and {range.Max}."));
    }

    private void CheckRange(string key, TimeSpan value, (TimeSpan Min, TimeSpan Max) range, List<string> problems)
    {
        if (value < range.Min || value > range.Max)
            problems.Add($"{key}: {_texts.GetValueOrDefault(key) ?? value.ToString()} is out of range; it must be between {range.Min} and {range.Max}.");
    }

    private void CheckRange(string key, int value, (int Min, int Max) range, List<string> problems)
    {
        if (value < range.Min || value > range.Max)
            problems.Add($"{key}: '{_texts.GetValueOrDefault(key) ?? value.ToString(CultureInfo.InvariantCulture)}' is not a whole number between {range.Min} and {range.Max}.");
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

/// <summary>Checks <see cref="TerminalOptions"/> at start-up (<c>ValidateOnStart</c>): [Required] and <see cref="TerminalOptions.Validate"/>.</summary>
[OptionsValidator]
internal sealed partial class TerminalOptionsValidator : IValidateOptions<TerminalOptions>;
