using System.Globalization;
using Dockhand.Containers;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Bot;

/// <summary>
/// Settings of the bot layer. <c>AUTHORIZED_USERS</c>: comma-separated Discord user ids (snowflakes) who may run every
/// command on anyone. Empty means nobody: owners can still manage their own containers.
/// </summary>
public sealed class BotOptions
{
    public const string AuthorizedUsersKey = "AUTHORIZED_USERS";

    /// <summary>How long the /destroy confirmation buttons stay valid.</summary>
    public TimeSpan DestroyConfirmationLifetime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Containers per /list page (one embed).</summary>
    public int ListPageSize { get; init; } = 10;

    /// <summary>Least time between two image-pull progress edits of a /create reply.</summary>
    public TimeSpan ProgressEditInterval { get; init; } = TimeSpan.FromSeconds(1);

    public IReadOnlySet<ulong> AuthorizedUsers { get; init; } = new HashSet<ulong>();

    /// <summary>The allowlist in configuration order (for "ask one of them").</summary>
    public IReadOnlyList<ulong> AuthorizedUsersInOrder { get; init; } = [];

    public bool IsAuthorized(ulong userId) => AuthorizedUsers.Contains(userId);

    /// <summary>Reads and validates; a bad value throws <see cref="InvalidSettingException"/> naming the key.</summary>
    public static BotOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var ordered = ParseAuthorizedUsers(configuration[AuthorizedUsersKey]);
        return new BotOptions { AuthorizedUsers = ordered.ToHashSet(), AuthorizedUsersInOrder = ordered };
    }

    /// <summary>Parses "123, 456"; throws <see cref="InvalidSettingException"/> on anything that is not a snowflake.</summary>
    public static List<ulong> ParseAuthorizedUsers(string? value)
    {
        var users = new List<ulong>();
        if (string.IsNullOrWhiteSpace(value))
            return users;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Length > 20 || !ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
                throw new InvalidSettingException(AuthorizedUsersKey,
                    $"'{(part.Length > 24 ? part[..24] + "…" : part)}' is not a Discord user id; list snowflakes (digits only) separated by commas.");
            if (!users.Contains(id))
                users.Add(id);
        }
        return users;
    }
}
