using Dockhand.Discord.Interactions;

namespace Dockhand.Discord.Commands;

/// <summary>A chat-input (slash) command definition: data, uploaded by <see cref="CommandRegistrar"/>.</summary>
public sealed record SlashCommand(string Name, string Description, IReadOnlyList<CommandOption> Options)
{
    public SlashCommand(string name, string description, params CommandOption[] options) : this(name, description, (IReadOnlyList<CommandOption>)options) { }

    /// <summary>Optional permission bit set a member needs by default (e.g. "0" hides it from everyone but admins).</summary>
    public long? DefaultMemberPermissions { get; init; }

    /// <summary>Where the command may be used (0 guild, 1 bot DM, 2 private channel); null means Discord's default.</summary>
    public IReadOnlyList<int>? Contexts { get; init; }
}

/// <summary>
/// An option of a command. <paramref name="Options"/> is only for <see cref="CommandOptionType.Subcommand"/> and
/// <see cref="CommandOptionType.SubcommandGroup"/>.
/// </summary>
public sealed record CommandOption(string Name, string Description, CommandOptionType Type, bool Required = false)
{
    public IReadOnlyList<CommandChoice>? Choices { get; init; }
    public bool Autocomplete { get; init; }
    public long? MinValue { get; init; }
    public long? MaxValue { get; init; }
    public int? MinLength { get; init; }
    public int? MaxLength { get; init; }
    public IReadOnlyList<CommandOption>? Options { get; init; }

    public static CommandOption String(string name, string description, bool required = false) => new(name, description, CommandOptionType.String, required);
    public static CommandOption Integer(string name, string description, bool required = false) => new(name, description, CommandOptionType.Integer, required);
    public static CommandOption Boolean(string name, string description, bool required = false) => new(name, description, CommandOptionType.Boolean, required);
    public static CommandOption User(string name, string description, bool required = false) => new(name, description, CommandOptionType.User, required);
    public static CommandOption Subcommand(string name, string description, params CommandOption[] options) =>
        new(name, description, CommandOptionType.Subcommand) { Options = options };
}

/// <summary>A fixed choice of a STRING (string value) or INTEGER (long value) option.</summary>
public sealed record CommandChoice(string Name, object Value)
{
    public static CommandChoice String(string name, string value) => new(name, value);
    public static CommandChoice Integer(string name, long value) => new(name, value);
}

/// <summary>A command definition broke one of Discord's rules; the message lists every problem.</summary>
public sealed class CommandDefinitionException(IReadOnlyList<string> problems)
    : Exception("Invalid command definitions: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
