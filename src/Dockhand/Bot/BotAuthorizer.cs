using System.Globalization;
using Dockhand.Containers;

namespace Dockhand.Bot;

/// <summary>What authorisation decided for one request.</summary>
internal abstract record Permission
{
    private Permission() { }

    public sealed record Allowed : Permission;

    /// <summary>Refused; <paramref name="Sentence"/> says who can help.</summary>
    public sealed record Refused(string Sentence, string Reason) : Permission;
}

/// <summary>
/// The rules: AUTHORIZED_USERS may run every command on anyone; a container's owner may run /status, /terminal,
/// /start, /stop and /restart on their own container; everyone else is refused with a sentence naming who can help.
/// </summary>
internal sealed class BotAuthorizer(BotOptions options, ContainerService containers)
{
    private const int MaxNamed = 5;

    public bool IsAuthorized(ulong userId) => options.IsAuthorized(userId);

    /// <summary>Commands only the allowlist may use (/create, /destroy, /list, and buttons of those).</summary>
    public Permission ForAllowlistOnly(ulong invoker, string command) =>
        IsAuthorized(invoker)
            ? new Permission.Allowed()
            : new Permission.Refused($"Only the people on Dockhand's allowlist can use /{command}. Ask {WhoCanHelp()} if you need it.", "not on the allowlist");

    /// <summary>Owner commands: allowed for the allowlist, or for the invoker on their own (existing) container.</summary>
    public async Task<Permission> ForOwnerCommandAsync(ulong invoker, ulong target, string command, CancellationToken cancellationToken = default)
    {
        if (IsAuthorized(invoker))
            return new Permission.Allowed();
        if (invoker != target)
            return new Permission.Refused(
                $"You can only use /{command} on your own container; ask {WhoCanHelp()} for help with someone else's.", "not the owner");
        if (await containers.FindAsync(new OwnerId(invoker), cancellationToken) is null)
            return new Permission.Refused($"You don't have a container yet; ask {WhoCanHelp()} to create one for you with /create.", "no container");
        return new Permission.Allowed();
    }

    /// <summary>"&lt;@1&gt;, &lt;@2&gt; or &lt;@3&gt;" (first five of the allowlist), or the operator when it is empty.</summary>
    public string WhoCanHelp()
    {
        var named = options.AuthorizedUsersInOrder.Take(MaxNamed).Select(id => "<@" + id.ToString(CultureInfo.InvariantCulture) + ">").ToList();
        return named.Count switch
        {
            0 => "whoever runs this Dockhand server (its AUTHORIZED_USERS list is empty)",
            1 => named[0],
            _ when options.AuthorizedUsersInOrder.Count > MaxNamed => string.Join(", ", named) + " or another allowlisted user",
            _ => string.Join(", ", named[..^1]) + " or " + named[^1],
        };
    }
}
