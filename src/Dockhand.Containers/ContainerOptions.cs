using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Dockhand.Containers;

/// <summary>A setting that cannot be used. <see cref="Exception.Message"/> is one line that starts with the key.</summary>
public sealed class InvalidSettingException(string key, string problem) : Exception($"{key}: {problem}")
{
    public string Key { get; } = key;
}

/// <summary>What to do with a container that carries this instance's labels but has no record (e.g. after restoring an older copy of the database).</summary>
public enum OrphanPolicy
{
    /// <summary>
    /// Record it for the owner its labels name, when that owner has none and the name is free; otherwise stop it and
    /// report it (default). Nothing is deleted: the container may hold someone's work.
    /// </summary>
    Adopt,
    /// <summary>Remove it. Only when the operator says so: the record may be what was lost, not the container.</summary>
    Remove,
}

/// <summary>
/// The container module's settings, bound from FLAT configuration keys (see <see cref="Keys"/> and README "Configuration"):
/// <c>services.AddOptions&lt;ContainerOptions&gt;().Bind(configuration)</c>, checked at start-up by the source-generated
/// <see cref="ContainerOptionsValidator"/> (<c>ValidateOnStart</c>). As in TerminalOptions, every key arrives through a
/// string setter (<c>…Setting</c>, named with <see cref="ConfigurationKeyNameAttribute"/>) that parses it and keeps what
/// was wrong: the binder's own conversions throw with its own words, and users see ours, one line naming the key.
/// Sizes, durations and lists need parsers of their own; the rest (numbers, booleans, the policy, URIs) are parsed here
/// too only to keep those sentences. <see cref="FromConfiguration"/> binds and checks the same way without a container.
/// </summary>
public sealed partial record ContainerOptions : IValidatableObject
{
    public static class Keys
    {
        public const string DatabasePath = "DATABASE_PATH";
        public const string DatabaseUrl = "DATABASE_URL";
        public const string DockerHost = "DOCKER_HOST";
        public const string DefaultImage = "DEFAULT_IMAGE";
        public const string MemoryLimit = "CONTAINER_MEMORY_LIMIT";
        public const string CpuLimit = "CONTAINER_CPU_LIMIT";
        public const string PidsLimit = "CONTAINER_PIDS_LIMIT";
        public const string CapAdd = "CONTAINER_CAP_ADD";
        public const string NoNewPrivileges = "CONTAINER_NO_NEW_PRIVILEGES";
        public const string ImageAllowlist = "IMAGE_ALLOWLIST";
        public const string OrphanPolicy = "ORPHAN_POLICY";
        public const string ExtraLabels = "CONTAINER_EXTRA_LABELS";
        public const string Network = "CONTAINER_NETWORK";
        public const string VolumePath = "CONTAINER_VOLUME_PATH";
        public const string VolumeDriver = "CONTAINER_VOLUME_DRIVER";
        public const string VolumeDriverOpts = "CONTAINER_VOLUME_DRIVER_OPTS";
        public const string DiskLimit = "CONTAINER_DISK_LIMIT";
        public const string IdleStopAfter = "IDLE_STOP_AFTER";
        public const string IdleCpuPercent = "IDLE_CPU_PERCENT";
        public const string StoppedDestroyAfter = "STOPPED_DESTROY_AFTER";
    }

    /// <summary>
    /// Capabilities kept after dropping ALL: what a root shell needs to install packages and manage its own files.
    /// CHOWN, DAC_OVERRIDE, FOWNER, FSETID: dpkg/apt unpack files owned by other users and keep their modes;
    /// SETUID, SETGID: apt drops to the _apt user, su/sudo/login switch users; KILL: signal processes of other users
    /// inside the container; NET_BIND_SERVICE: run a dev server on a port below 1024.
    /// Left out on purpose (Docker's defaults include them): MKNOD, NET_RAW (raw sockets, ARP spoofing), SYS_CHROOT,
    /// SETPCAP, SETFCAP, AUDIT_WRITE.
    /// </summary>
    public static IReadOnlyList<string> DefaultCapabilities { get; } =
        ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE"];

    /// <summary>
    /// What <see cref="Keys.CapAdd"/> may name: Docker's own default set (moby oci/caps/defaults.go, unchanged since
    /// 20.10), which every `docker run` grants. Anything beyond it widens what a root shell can do to the host
    /// (SYS_TIME sets the host clock, BPF and PERFMON read kernel memory, SYSLOG reads the host's kernel log...).
    /// </summary>
    public static IReadOnlyList<string> AllowedCapabilities { get; } =
    [
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
        "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    ];

    /// <summary>The smallest <see cref="Keys.DiskLimit"/>: below it a container cannot even unpack a package cache.</summary>
    public const long MinimumDiskLimitBytes = 64L * 1024 * 1024;

    public string DatabasePath { get; set; } = "containers.db";

    /// <summary>PostgreSQL (<c>postgres://…</c>) instead of the SQLite file at <see cref="DatabasePath"/>; null for SQLite.</summary>
    public string? DatabaseUrl { get; set; }

    public Uri DockerHost { get; set; } = new("unix:///var/run/docker.sock");

    public string DefaultImage { get; set; } = "ubuntu:24.04";

    /// <summary>Memory limit in bytes; 0 means no limit. Default 512 MiB.</summary>
    public long MemoryLimitBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>CPU limit in units of 10^-9 CPUs (Docker's NanoCPUs); 0 means no limit. Default one CPU.</summary>
    public long NanoCpus { get; set; } = 1_000_000_000;

    /// <summary>Most processes the container may hold; 0 means no limit. Default 256.</summary>
    public long PidsLimit { get; set; } = 256;

    public IReadOnlyList<string> CapAdd { get; set; } = DefaultCapabilities;

    public bool NoNewPrivileges { get; set; } = true;

    /// <summary>Images that may be used; empty means any image. Compared after adding ":latest" to an untagged name.</summary>
    public IReadOnlyList<string> ImageAllowlist { get; set; } = [];

    public OrphanPolicy OrphanPolicy { get; set; } = OrphanPolicy.Adopt;

    /// <summary>Extra labels put on every container and added to every listing filter (tests scope their containers with these).</summary>
    public IReadOnlyDictionary<string, string> ExtraLabels { get; set; } = new Dictionary<string, string>();

    /// <summary>
    /// Docker network the containers join. Empty (the default) means this instance's own bridge network
    /// (<see cref="Engine.InstanceNetwork"/>: created at the first create, inter-container traffic off); "none" means no
    /// network; any other name is a network the operator manages. "host" and "container:…" are refused.
    /// </summary>
    public string Network { get; set; } = "";

    /// <summary>True when containers join this instance's own isolated network (<see cref="Network"/> is empty).</summary>
    public bool UsesInstanceNetwork => Network.Length == 0;

    /// <summary>
    /// Most bytes a container's writable layer may hold (Docker's storage option "size"); 0 (the default) means no limit.
    /// Only some storage drivers enforce it (<see cref="Engine.DiskLimitSupport"/>); start-up refuses it on the others.
    /// </summary>
    public long DiskLimitBytes { get; set; }

    /// <summary>
    /// Where each owner's home volume is mounted; it outlives /destroy (unless purged) and comes back on the next /create.
    /// Empty turns home volumes off.
    /// </summary>
    public string VolumePath { get; set; } = "/root";

    public bool HomesEnabled => VolumePath.Length > 0;

    /// <summary>
    /// The volume driver of home volumes; empty (the default) is the engine's <c>local</c> driver with no options, whose
    /// volume lives on one machine (so on a Swarm the service is pinned to that node). A driver, or options such as NFS's,
    /// name shared storage: on a Swarm each node makes the volume from them where the task lands, and nothing is pinned.
    /// </summary>
    public string VolumeDriver { get; set; } = "";

    /// <summary>The driver's options (<c>docker volume create --opt</c>), e.g. type=nfs, o=addr=…, device=:/export.</summary>
    public IReadOnlyDictionary<string, string> VolumeDriverOptions { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>True when homes are on storage a driver (or its options) describes, rather than on one node's disk.</summary>
    public bool HomesOnSharedStorage => VolumeDriver.Length > 0 || VolumeDriverOptions.Count > 0;

    /// <summary>
    /// How long a running container must have had no terminal attached and CPU use below <see cref="IdleCpuPercent"/>
    /// before it is stopped (never destroyed); null (the default) turns idle culling off (<see cref="Culling.IdleCuller"/>).
    /// </summary>
    public TimeSpan? IdleStopAfter { get; set; }

    /// <summary>CPU use (percent of one core, as <c>docker stats</c> shows it) below which a container counts as idle. Default 5.</summary>
    public double IdleCpuPercent { get; set; } = 5;

    /// <summary>How long a container may stay stopped before it is destroyed (its home volume kept); null (the default) never.</summary>
    public TimeSpan? StoppedDestroyAfter { get; set; }

    /// <summary>The long-lived command: the container stays up with nothing to do, like the original bot's.</summary>
    public IReadOnlyList<string> Command { get; init; } = ["tail", "-f", "/dev/null"];

    // What was wrong with each key, in the order the keys were bound; reported by Validate.
    private readonly List<(string Key, string Problem)> _problems = [];

    [ConfigurationKeyName(Keys.DatabasePath)]
    public string? DatabasePathSetting
    {
        get => null;
        set => Set(value, text => DatabasePath = text.IndexOfAny(Path.GetInvalidPathChars()) < 0
            ? text
            : throw new InvalidSettingException(Keys.DatabasePath, $"'{text}' is not a usable file path."));
    }

    [ConfigurationKeyName(Keys.DatabaseUrl)]
    public string? DatabaseUrlSetting { get => null; set => Set(value, text => DatabaseUrl = ParseDatabaseUrl(text)); }

    [ConfigurationKeyName(Keys.DockerHost)]
    public string? DockerHostSetting { get => null; set => Set(value, text => DockerHost = ParseDockerHost(text)); }

    [ConfigurationKeyName(Keys.DefaultImage)]
    public string? DefaultImageSetting
    {
        get => null;
        set => Set(value, text => DefaultImage = ImageReference.IsValid(text)
            ? text
            : throw new InvalidSettingException(Keys.DefaultImage, $"'{text}' is not a valid image reference, e.g. ubuntu:24.04."));
    }

    [ConfigurationKeyName(Keys.MemoryLimit)]
    public string? MemoryLimitSetting { get => null; set => Set(value, text => MemoryLimitBytes = ParseMemory(text)); }

    [ConfigurationKeyName(Keys.CpuLimit)]
    public string? CpuLimitSetting { get => null; set => Set(value, text => NanoCpus = ParseCpus(text)); }

    [ConfigurationKeyName(Keys.PidsLimit)]
    public string? PidsLimitSetting { get => null; set => Set(value, text => PidsLimit = ParsePids(text)); }

    /// <summary>Set, even to nothing, it replaces the default set: an empty value keeps no capability at all.</summary>
    [ConfigurationKeyName(Keys.CapAdd)]
    public string? CapAddSetting { get => null; set => Catch(() => CapAdd = ParseCapabilities(value ?? "")); }

    [ConfigurationKeyName(Keys.NoNewPrivileges)]
    public string? NoNewPrivilegesSetting { get => null; set => Set(value, text => NoNewPrivileges = ParseBool(Keys.NoNewPrivileges, text)); }

    [ConfigurationKeyName(Keys.ImageAllowlist)]
    public string? ImageAllowlistSetting { get => null; set => Set(value, text => ImageAllowlist = ParseAllowlist(text)); }

    [ConfigurationKeyName(Keys.OrphanPolicy)]
    public string? OrphanPolicySetting { get => null; set => Set(value, text => OrphanPolicy = ParsePolicy(text)); }

    [ConfigurationKeyName(Keys.ExtraLabels)]
    public string? ExtraLabelsSetting { get => null; set => Set(value, text => ExtraLabels = ParseLabels(text)); }

    [ConfigurationKeyName(Keys.Network)]
    public string? NetworkSetting { get => null; set => Set(value, text => Network = ParseNetwork(text)); }

    [ConfigurationKeyName(Keys.DiskLimit)]
    public string? DiskLimitSetting { get => null; set => Set(value, text => DiskLimitBytes = ParseDiskLimit(text)); }

    /// <summary>Set, even to nothing, it replaces the default: an empty value turns home volumes off.</summary>
    [ConfigurationKeyName(Keys.VolumePath)]
    public string? VolumePathSetting { get => null; set => Catch(() => VolumePath = ParseVolumePath((value ?? "").Trim())); }

    [ConfigurationKeyName(Keys.VolumeDriver)]
    public string? VolumeDriverSetting { get => null; set => Catch(() => VolumeDriver = ParseVolumeDriver((value ?? "").Trim())); }

    [ConfigurationKeyName(Keys.VolumeDriverOpts)]
    public string? VolumeDriverOptsSetting { get => null; set => Catch(() => VolumeDriverOptions = ParseVolumeDriverOptions(value ?? "")); }

    [ConfigurationKeyName(Keys.IdleStopAfter)]
    public string? IdleStopAfterSetting { get => null; set => Set(value, text => IdleStopAfter = ParseDuration(Keys.IdleStopAfter, text, "8h")); }

    [ConfigurationKeyName(Keys.IdleCpuPercent)]
    public string? IdleCpuPercentSetting { get => null; set => Set(value, text => IdleCpuPercent = ParseIdleCpuPercent(text)); }

    [ConfigurationKeyName(Keys.StoppedDestroyAfter)]
    public string? StoppedDestroyAfterSetting { get => null; set => Set(value, text => StoppedDestroyAfter = ParseDuration(Keys.StoppedDestroyAfter, text, "30d")); }

    /// <summary>
    /// Binds and checks every key as <c>ValidateOnStart</c> does, for code that has no service container; the first
    /// problem throws <see cref="InvalidSettingException"/>.
    /// </summary>
    public static ContainerOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new ContainerOptions();
        configuration.Bind(options);
        if (options.Problems().FirstOrDefault() is ({ } key, { } problem))
            throw new InvalidSettingException(key, problem);
        return options;
    }

    /// <summary>Every problem, one line each naming its key (the generated validator reports them).</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
        => Problems().Select(p => new ValidationResult($"{p.Key}: {p.Problem}"));

    /// <summary>What could not be parsed, then what the keys say together; the fault-injection keys last.</summary>
    private List<(string Key, string Problem)> Problems()
    {
        var problems = new List<(string Key, string Problem)>(_problems);
        var imagesParsed = !problems.Any(p => p.Key is Keys.DefaultImage or Keys.ImageAllowlist);
        if (imagesParsed && ImageAllowlist.Count > 0 && !IsImageAllowed(DefaultImage))
            problems.Add((Keys.DefaultImage, $"'{DefaultImage}' is not on {Keys.ImageAllowlist}; add it there or choose an allowed default."));
        try
        {
            FaultInjection.ThrowIfUnknownStep();
        }
        catch (InvalidSettingException e)
        {
            problems.Add((e.Key, e.Message[(e.Key.Length + 2)..]));
        }
        return problems;
    }

    /// <summary>A value of only spaces counts as not set, and the text is trimmed before it is parsed.</summary>
    private void Set(string? value, Action<string> parse)
    {
        if (!string.IsNullOrWhiteSpace(value))
            Catch(() => parse(value.Trim()));
    }

    private void Catch(Action parse)
    {
        try
        {
            parse();
        }
        catch (InvalidSettingException e)
        {
            _problems.Add((e.Key, e.Message[(e.Key.Length + 2)..]));
        }
    }

    /// <summary>True when the allowlist is empty or names the image (an untagged name means ":latest").</summary>
    public bool IsImageAllowed(string image)
    {
        if (ImageAllowlist.Count == 0)
            return true;
        var normalized = ImageReference.Normalize(image);
        return ImageAllowlist.Any(allowed => string.Equals(ImageReference.Normalize(allowed), normalized, StringComparison.Ordinal));
    }

    private static string ParseDatabaseUrl(string url)
    {
        try
        {
            _ = Storage.PostgresUrl.Parse(url);
            return url;
        }
        catch (FormatException e)
        {
            // The message never repeats the URL: it may hold a password.
            throw new InvalidSettingException(Keys.DatabaseUrl, $"{e.Message}.");
        }
    }

    private static Uri ParseDockerHost(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("unix" or "tcp" or "http"))
            throw new InvalidSettingException(Keys.DockerHost, $"'{value}' is not a Docker endpoint; use unix:///path/to/docker.sock or tcp://host:port.");
        if (uri.Scheme == "unix" && string.IsNullOrEmpty(uri.AbsolutePath.Trim('/')))
            throw new InvalidSettingException(Keys.DockerHost, $"'{value}' names no socket path; use e.g. unix:///var/run/docker.sock.");
        if (uri.Scheme is "tcp" or "http" && (string.IsNullOrEmpty(uri.Host) || uri.IsDefaultPort && uri.Port <= 0))
            throw new InvalidSettingException(Keys.DockerHost, $"'{value}' names no host and port; use e.g. tcp://127.0.0.1:2375.");
        return uri;
    }

    private static long ParseMemory(string value)
    {
        var bytes = ParseSize(Keys.MemoryLimit, value, "512m, 2g");
        if (bytes != 0 && bytes < 6 * 1024 * 1024)
            throw new InvalidSettingException(Keys.MemoryLimit, $"'{value}' is below Docker's minimum of 6m; use a larger size or 0 for no limit.");
        return bytes;
    }

    private static long ParseDiskLimit(string value)
    {
        var bytes = ParseSize(Keys.DiskLimit, value, "10g, 500m");
        if (bytes != 0 && bytes < MinimumDiskLimitBytes)
            throw new InvalidSettingException(Keys.DiskLimit, $"'{value}' is below the minimum of 64m; use a larger size, or leave it empty for no limit.");
        return bytes;
    }

    private static long ParseSize(string key, string value, string examples)
    {
        var match = MemoryPattern().Match(value);
        if (!match.Success || !decimal.TryParse(match.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            throw new InvalidSettingException(key, $"'{value}' is not a size; use e.g. {examples} or 0 for no limit.");
        var multiplier = char.ToLowerInvariant(match.Groups["u"].Value.FirstOrDefault('b')) switch
        {
            'k' => 1024L,
            'm' => 1024L * 1024,
            'g' => 1024L * 1024 * 1024,
            't' => 1024L * 1024 * 1024 * 1024,
            _ => 1L,
        };
        if (number * multiplier > long.MaxValue / 2)
            throw new InvalidSettingException(key, $"'{value}' is too large; use e.g. {examples}.");
        return (long)(number * multiplier);
    }

    private static TimeSpan ParseDuration(string key, string value, string example)
        => Culling.DurationText.TryParse(value, out var duration)
            ? duration
            : throw new InvalidSettingException(key, $"'{value}' is not a duration; use e.g. {example}, 90m or 45s, or leave it empty to turn it off.");

    private static double ParseIdleCpuPercent(string value)
    {
        if (!double.TryParse(value.TrimEnd('%').TrimEnd(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) || percent is <= 0 or > 100_000)
            throw new InvalidSettingException(Keys.IdleCpuPercent, $"'{value}' is not a CPU percentage; use e.g. 5 (percent of one core, above 0).");
        return percent;
    }

    /// <summary>
    /// "host" would hand every user the host's own network stack (its loopback services, every port it listens on);
    /// "container:X" would share X's stack, so users could reach each other. Both are refused rather than documented.
    /// </summary>
    private static string ParseNetwork(string value)
    {
        if (string.Equals(value, "host", StringComparison.OrdinalIgnoreCase))
            throw new InvalidSettingException(Keys.Network, $"'{value}' would give every container the host's own network (its loopback services and every port it listens on); leave it empty for Dockhand's isolated network, or use none or a named network.");
        if (value.StartsWith("container:", StringComparison.OrdinalIgnoreCase) || string.Equals(value, "container", StringComparison.OrdinalIgnoreCase))
            throw new InvalidSettingException(Keys.Network, $"'{value}' would make containers share another container's network stack, so users could reach each other; leave it empty for Dockhand's isolated network, or use none or a named network.");
        if (!LabelKeyPattern().IsMatch(value))
            throw new InvalidSettingException(Keys.Network, $"'{value}' is not a network name; leave it empty for Dockhand's isolated network, or use none or the name of a Docker network.");
        return value;
    }

    private static long ParseCpus(string value)
    {
        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus) || cpus < 0 || cpus > 1024)
            throw new InvalidSettingException(Keys.CpuLimit, $"'{value}' is not a CPU count; use e.g. 1, 0.5 or 0 for no limit.");
        return (long)(cpus * 1_000_000_000m);
    }

    private static long ParsePids(string value)
    {
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pids) || pids is < 0 or > 4_194_304 || pids is > 0 and < 8)
            throw new InvalidSettingException(Keys.PidsLimit, $"'{value}' is not a process limit; use a whole number of at least 8, or 0 for no limit.");
        return pids;
    }

    private static List<string> ParseCapabilities(string value)
    {
        var caps = new List<string>();
        foreach (var raw in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var cap = raw.ToUpperInvariant();
            if (cap.StartsWith("CAP_", StringComparison.Ordinal))
                cap = cap[4..];
            if (!CapabilityPattern().IsMatch(cap) || cap == "ALL")
                throw new InvalidSettingException(Keys.CapAdd, $"'{raw}' is not a capability name; use names like CHOWN,SETUID (ALL is not allowed).");
            if (!AllowedCapabilities.Contains(cap))
                throw new InvalidSettingException(Keys.CapAdd, $"{cap} is not in Docker's default capability set, the most a user's container may have; remove it (allowed: {string.Join(",", AllowedCapabilities)}).");
            if (!caps.Contains(cap))
                caps.Add(cap);
        }
        return caps;
    }

    private static string ParseVolumePath(string value)
    {
        if (value.Length == 0)
            return value;
        if (!value.StartsWith('/') || value == "/" || value.Contains(':', StringComparison.Ordinal) || value.Split('/').Contains(".."))
            throw new InvalidSettingException(Keys.VolumePath, $"'{value}' is not a directory to mount the home volume at; use an absolute path such as /root or /home/user, or leave it empty to turn home volumes off.");
        return value.TrimEnd('/');
    }

    private static string ParseVolumeDriver(string value)
    {
        if (value.Length > 0 && !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':'))
            throw new InvalidSettingException(Keys.VolumeDriver, $"'{value}' is not a volume driver name; use local, a plugin's name such as vieux/sshfs, or leave it empty for the engine's local volumes.");
        return value;
    }

    /// <summary>
    /// "type=nfs,o=addr=10.0.0.5,device=:/export/homes": key=value pairs between commas; a value that holds commas is
    /// quoted as in <c>docker --mount</c>: <c>"o=addr=10.0.0.5,rw,nfsvers=4"</c>.
    /// </summary>
    internal static Dictionary<string, string> ParseVolumeDriverOptions(string text)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var pairs = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in text)
        {
            if (c == '"')
                quoted = !quoted;
            else if (c == ',' && !quoted)
            {
                pairs.Add(current.ToString());
                current.Clear();
            }
            else
                current.Append(c);
        }
        if (quoted)
            throw new InvalidSettingException(Keys.VolumeDriverOpts, "a double quote is not closed; quote a whole pair whose value holds commas, e.g. \"o=addr=10.0.0.5,rw\".");
        pairs.Add(current.ToString());
        foreach (var pair in pairs.Select(p => p.Trim()).Where(p => p.Length > 0))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
                throw new InvalidSettingException(Keys.VolumeDriverOpts, $"'{pair}' is not key=value; write the options as type=nfs,\"o=addr=10.0.0.5,rw\",device=:/export/homes.");
            if (!options.TryAdd(pair[..equals].Trim(), pair[(equals + 1)..].Trim()))
                throw new InvalidSettingException(Keys.VolumeDriverOpts, $"the option {pair[..equals].Trim()} is given twice.");
        }
        return options;
    }

    private static bool ParseBool(string key, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new InvalidSettingException(key, $"'{value}' is not true or false."),
    };

    private static List<string> ParseAllowlist(string value)
    {
        var images = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        foreach (var image in images.Where(i => !ImageReference.IsValid(i)))
            throw new InvalidSettingException(Keys.ImageAllowlist, $"'{image}' is not a valid image reference; list images comma-separated, e.g. ubuntu:24.04,debian:12.");
        return images;
    }

    private static OrphanPolicy ParsePolicy(string value) => value.ToLowerInvariant() switch
    {
        "adopt" => OrphanPolicy.Adopt,
        "remove" => OrphanPolicy.Remove,
        _ => throw new InvalidSettingException(Keys.OrphanPolicy, $"'{value}' is not a policy; use adopt (the default) or remove."),
    };

    private static Dictionary<string, string> ParseLabels(string value)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals > 0 ? pair[..equals] : "";
            if (!LabelKeyPattern().IsMatch(key) || key.StartsWith(ContainerLabels.Prefix, StringComparison.Ordinal) && key is not ("dockhand.test" or "dockhand.bench"))
                throw new InvalidSettingException(Keys.ExtraLabels, $"'{pair}' is not key=value with a key of letters, digits, '.', '-' or '_' (dockhand.* keys are reserved).");
            labels[key] = pair[(equals + 1)..];
        }
        return labels;
    }

    [GeneratedRegex(@"^(?<n>\d+(\.\d+)?)\s*(?<u>[bkmgtBKMGT])?[bB]?$")]
    private static partial Regex MemoryPattern();

    [GeneratedRegex("^[A-Z][A-Z0-9_]*$")]
    private static partial Regex CapabilityPattern();

    [GeneratedRegex(@"^[a-zA-Z0-9][a-zA-Z0-9._\-]*$")]
    private static partial Regex LabelKeyPattern();
}

/// <summary>Checks <see cref="ContainerOptions"/> at start-up (<c>ValidateOnStart</c>) through <see cref="ContainerOptions.Validate"/>.</summary>
[OptionsValidator]
internal sealed partial class ContainerOptionsValidator : IValidateOptions<ContainerOptions>;

/// <summary>The labels every managed container carries (DESIGN §2).</summary>
public static class ContainerLabels
{
    public const string Prefix = "dockhand.";
    public const string Managed = "dockhand.managed";
    public const string Owner = "dockhand.owner";
    public const string Name = "dockhand.name";
    /// <summary>The instance (database) that made it: a random id stored in the database. Nothing of another instance is ever touched.</summary>
    public const string Instance = "dockhand.instance";
    /// <summary>The create operation that made the container (or home volume); ties a half-made one to its intent row.</summary>
    public const string Operation = "dockhand.op";
}

/// <summary>Image reference checks, lenient enough for registries with ports and digests.</summary>
public static partial class ImageReference
{
    public static bool IsValid(string? image)
        => image is { Length: > 0 and <= 255 } && Pattern().IsMatch(image);

    /// <summary>"busybox" becomes "busybox:latest"; names with a tag or digest are unchanged.</summary>
    public static string Normalize(string image)
    {
        if (image.Contains('@', StringComparison.Ordinal))
            return image;
        var lastSlash = image.LastIndexOf('/');
        return image.IndexOf(':', lastSlash + 1) >= 0 ? image : image + ":latest";
    }

    /// <summary>Splits into the repository and tag (or digest) for a pull.</summary>
    public static (string Repository, string Tag) Split(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
            return (image[..at], image[(at + 1)..]);
        var normalized = Normalize(image);
        var colon = normalized.LastIndexOf(':');
        return (normalized[..colon], normalized[(colon + 1)..]);
    }

    [GeneratedRegex(@"^[a-z0-9]+([._\-]+[a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._\-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})?(@sha256:[a-f0-9]{64})?$")]
    private static partial Regex Pattern();
}
