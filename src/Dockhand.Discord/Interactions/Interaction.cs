namespace Dockhand.Discord.Interactions;

/// <summary>Interaction types (Discord: 1 PING, 2 APPLICATION_COMMAND, 3 MESSAGE_COMPONENT, 4 AUTOCOMPLETE).</summary>
public enum InteractionType
{
    Ping = 1,
    ApplicationCommand = 2,
    MessageComponent = 3,
    Autocomplete = 4,
    ModalSubmit = 5,
}

/// <summary>Application command option types Dockhand reads or declares.</summary>
public enum CommandOptionType
{
    Subcommand = 1,
    SubcommandGroup = 2,
    String = 3,
    Integer = 4,
    Boolean = 5,
    User = 6,
}

/// <summary>A Discord user as seen in an interaction or from GET /users/{id}.</summary>
public sealed record DiscordUser(Snowflake Id, string Username, string? GlobalName, bool IsBot = false)
{
    /// <summary>The name to show: the global display name when set, otherwise the username.</summary>
    public string DisplayName => string.IsNullOrEmpty(GlobalName) ? Username : GlobalName;
}

/// <summary>One option value of a command (or of a subcommand), already typed.</summary>
public sealed record InteractionOption(string Name, CommandOptionType Type, object? Value, bool Focused)
{
    /// <summary>For USER options: the resolved user, when Discord sent it.</summary>
    public DiscordUser? ResolvedUser { get; init; }
}

/// <summary>
/// An interaction received from either transport (gateway or HTTP). Transport-independent and immutable.
/// Options are those of the invoked (sub)command: when a subcommand was used, <see cref="SubcommandName"/> names it
/// and <see cref="Options"/> are its options.
/// </summary>
public sealed record Interaction
{
    public required Snowflake Id { get; init; }
    public required Snowflake ApplicationId { get; init; }
    public required InteractionType Type { get; init; }
    /// <summary>The interaction token (valid 15 minutes). Never log it.</summary>
    public required string Token { get; init; }
    /// <summary>Who invoked it: member.user in a guild, user in a DM.</summary>
    public required DiscordUser User { get; init; }
    public Snowflake? GuildId { get; init; }
    public Snowflake? ChannelId { get; init; }
    /// <summary>The command name (types 2 and 4).</summary>
    public string? CommandName { get; init; }
    public string? SubcommandName { get; init; }
    public IReadOnlyList<InteractionOption> Options { get; init; } = [];
    /// <summary>The component's custom_id (type 3).</summary>
    public string? CustomId { get; init; }
    public int? ComponentType { get; init; }
    /// <summary>Selected values of a select menu (type 3).</summary>
    public IReadOnlyList<string> Values { get; init; } = [];
    /// <summary>For components: the id of the message the component is attached to.</summary>
    public Snowflake? MessageId { get; init; }

    /// <summary>The invoker's id (shorthand for <c>User.Id</c>).</summary>
    public Snowflake UserId => User.Id;

    /// <summary>How long an interaction token stays valid (Receiving and Responding: "valid for 15 minutes").</summary>
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(15);

    /// <summary>When Discord created the interaction: the timestamp in its snowflake id (ms since 2015-01-01 UTC).</summary>
    public DateTimeOffset CreatedAt => DateTimeOffset.FromUnixTimeMilliseconds((long)(Id.Value >> 22) + DiscordEpochMs);

    /// <summary>When <see cref="Token"/> stops working: every @original edit or follow-up after it is a 401 (50027).</summary>
    public DateTimeOffset TokenExpiresAt => CreatedAt + TokenLifetime;

    private const long DiscordEpochMs = 1_420_070_400_000;

    /// <summary>A snowflake for an id made at <paramref name="at"/> (for tests and fakes that play Discord).</summary>
    public static Snowflake SnowflakeAt(DateTimeOffset at, ulong increment = 0) =>
        new(((ulong)(at.ToUnixTimeMilliseconds() - DiscordEpochMs) << 22) | (increment & 0xFFF));

    /// <summary>The focused option of an autocomplete interaction, or null.</summary>
    public InteractionOption? FocusedOption => Options.FirstOrDefault(o => o.Focused);

    public InteractionOption? GetOption(string name) => Options.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.Ordinal));

    /// <summary>A STRING option's value (also the partial text of a focused autocomplete option), or null.</summary>
    public string? GetString(string name) => GetOption(name)?.Value as string;

    /// <summary>An INTEGER option's value, or null. (A focused autocomplete INTEGER may still be partial text: see GetOption.)</summary>
    public long? GetInteger(string name) => GetOption(name)?.Value is long l ? l : null;

    public bool? GetBoolean(string name) => GetOption(name)?.Value is bool b ? b : null;

    /// <summary>A USER option's snowflake, or null.</summary>
    public Snowflake? GetUserId(string name) => GetOption(name)?.Value is Snowflake id ? id : null;

    /// <summary>A USER option's resolved user, or null when absent or not resolved.</summary>
    public DiscordUser? GetUser(string name) => GetOption(name)?.ResolvedUser;
}
