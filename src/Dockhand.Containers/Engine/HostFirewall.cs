using System.Diagnostics;
using System.Net;

namespace Dockhand.Containers.Engine;

/// <summary>What <see cref="HostFirewall.CheckMetadataDropAsync"/> found. <see cref="Checked"/> is false when the rules could not be read.</summary>
public sealed record FirewallCheck(bool Checked, bool MetadataBlocked, string Detail);

/// <summary>
/// Reads the host's DOCKER-USER chain (<c>iptables -S DOCKER-USER</c>) to see whether the README's rule that keeps the
/// instance network away from the cloud metadata address is in place. Only reads; never changes a rule.
/// </summary>
public static class HostFirewall
{
    public static IPAddress MetadataAddress { get; } = IPAddress.Parse("169.254.169.254");

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether DOCKER-USER drops traffic from <paramref name="bridge"/> to 169.254.169.254. "Cannot check" (not a failure)
    /// when the engine is on another host, iptables is missing, or it may not be read (not root).
    /// </summary>
    public static async Task<FirewallCheck> CheckMetadataDropAsync(string bridge, Uri dockerHost, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dockerHost);
        if (dockerHost.Scheme != "unix")
            return new(false, false, $"cannot check: the engine at {dockerHost} may be on another host; run iptables -S DOCKER-USER there");
        var start = new ProcessStartInfo("iptables", ["-S", "DOCKER-USER"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        try
        {
            using var process = Process.Start(start)!;
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(Timeout);
            var stdout = process.StandardOutput.ReadToEndAsync(bounded.Token);
            var stderr = process.StandardError.ReadToEndAsync(bounded.Token);
            try
            {
                await process.WaitForExitAsync(bounded.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill();
                return new(false, false, "cannot check: iptables -S DOCKER-USER did not answer in time");
            }
            if (process.ExitCode != 0)
            {
                var reason = (await stderr).ReplaceLineEndings(" ").Trim();
                return new(false, false, $"cannot check: iptables -S DOCKER-USER failed ({(reason.Length > 0 ? reason : $"exit {process.ExitCode}")})");
            }
            return HasMetadataDrop(await stdout, bridge)
                ? new(true, true, $"DOCKER-USER drops traffic from {bridge} to {MetadataAddress}")
                : new(true, false, $"DOCKER-USER has no DROP for {MetadataAddress} on {bridge}; users' containers can reach cloud metadata (see the README, \"Network isolation\")");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return new(false, false, "cannot check: iptables is not installed on this host");
        }
    }

    /// <summary>
    /// True when a rule in <paramref name="rules"/> (the output of <c>iptables -S DOCKER-USER</c>, in order) drops or
    /// rejects traffic to 169.254.169.254 coming in on <paramref name="bridge"/> (or on any interface), before anything
    /// that returns or accepts every packet (a rule appended after Docker's closing "-j RETURN" never runs).
    /// Rules with a negation or other matches (protocol, port) are not counted: they may let some of it through.
    /// </summary>
    public static bool HasMetadataDrop(string rules, string bridge)
    {
        ArgumentNullException.ThrowIfNull(rules);
        foreach (var line in rules.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length < 2 || tokens[0] != "-A")
                continue;
            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            var negated = false;
            for (var i = 2; i < tokens.Length; i++)
            {
                if (tokens[i] == "!")
                {
                    negated = true;
                    continue;
                }
                var option = tokens[i];
                options[option] = i + 1 < tokens.Length && !tokens[i + 1].StartsWith('-') ? tokens[++i] : "";
            }
            options.TryGetValue("-j", out var target);
            if (options.Count == 1 && target is "RETURN" or "ACCEPT")
                return false;
            if (negated || target is not ("DROP" or "REJECT"))
                continue;
            var known = new[] { "-i", "-d", "-j", "--reject-with" };
            if (options.Keys.Any(k => !known.Contains(k)))
                continue;
            var onBridge = !options.TryGetValue("-i", out var inInterface) || InterfaceMatches(inInterface, bridge);
            if (onBridge && options.TryGetValue("-d", out var destination) && Covers(destination, MetadataAddress))
                return true;
        }
        return false;
    }

    /// <summary>iptables interface match: exact, or a prefix ending in '+'.</summary>
    private static bool InterfaceMatches(string pattern, string name)
        => pattern.EndsWith('+') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : pattern == name;

    private static bool Covers(string cidr, IPAddress address)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        var text = slash < 0 ? cidr : cidr[..slash];
        if (!IPAddress.TryParse(text, out var network) || network.AddressFamily != address.AddressFamily)
            return false;
        var prefix = slash < 0 ? 32 : int.TryParse(cidr[(slash + 1)..], out var p) ? p : -1;
        if (prefix is < 0 or > 32)
            return false;
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        return (ToUInt(network) & mask) == (ToUInt(address) & mask);
    }

    private static uint ToUInt(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
    }
}
