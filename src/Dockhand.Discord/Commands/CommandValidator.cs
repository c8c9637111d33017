using System.Text.RegularExpressions;
using Dockhand.Discord.Interactions;

namespace Dockhand.Discord.Commands;

/// <summary>Checks definitions against Discord's rules before anything is uploaded.</summary>
public static partial class CommandValidator
{
    public const int MaxCommands = 100;
    public const int MaxOptions = 25;
    public const int MaxChoices = 25;

    [GeneratedRegex("^[-_a-z0-9]{1,32}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    /// <summary>Every problem found; empty when the definitions are valid.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<SlashCommand> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var problems = new List<string>();
        if (commands.Count > MaxCommands)
            problems.Add($"at most {MaxCommands} commands (got {commands.Count})");
        foreach (var dup in commands.GroupBy(c => c.Name).Where(g => g.Count() > 1))
            problems.Add($"command name '{dup.Key}' is used twice");
        foreach (var c in commands)
        {
            CheckNameAndDescription($"/{c.Name}", c.Name, c.Description, problems);
            CheckOptions($"/{c.Name}", c.Options, depth: 0, problems);
        }
        return problems;
    }

    /// <summary>Throws <see cref="CommandDefinitionException"/> listing every problem.</summary>
    public static void EnsureValid(IReadOnlyList<SlashCommand> commands)
    {
        var problems = Validate(commands);
        if (problems.Count > 0)
            throw new CommandDefinitionException(problems);
    }

    private static void CheckNameAndDescription(string where, string name, string description, List<string> problems)
    {
        if (name is null || !NamePattern().IsMatch(name))
            problems.Add($"{where}: name must be 1–32 lowercase letters, digits, '-' or '_'");
        if (string.IsNullOrWhiteSpace(description) || description.Length > 100)
            problems.Add($"{where}: description must be 1–100 characters");
    }

    private static void CheckOptions(string where, IReadOnlyList<CommandOption>? options, int depth, List<string> problems)
    {
        if (options is null)
            return;
        if (options.Count > MaxOptions)
            problems.Add($"{where}: at most {MaxOptions} options");
        foreach (var dup in options.GroupBy(o => o.Name).Where(g => g.Count() > 1))
            problems.Add($"{where}: option name '{dup.Key}' is used twice");
        var seenOptional = false;
        foreach (var o in options)
        {
            var at = $"{where} {o.Name}";
            CheckNameAndDescription(at, o.Name, o.Description, problems);
            var isSub = o.Type is CommandOptionType.Subcommand or CommandOptionType.SubcommandGroup;
            if (isSub)
            {
                if (depth >= (o.Type == CommandOptionType.SubcommandGroup ? 1 : 2))
                    problems.Add($"{at}: subcommands nest too deep");
                if (o.Required || o.Choices is not null || o.Autocomplete)
                    problems.Add($"{at}: a subcommand takes no required flag, choices or autocomplete");
                if (o.Type == CommandOptionType.SubcommandGroup && o.Options?.Any(s => s.Type != CommandOptionType.Subcommand) == true)
                    problems.Add($"{at}: a subcommand group holds only subcommands");
                CheckOptions(at, o.Options, depth + 1, problems);
                continue;
            }
            if (o.Options is { Count: > 0 })
                problems.Add($"{at}: only subcommands have options");
            if (o.Required && seenOptional)
                problems.Add($"{at}: required options must come before optional ones");
            seenOptional |= !o.Required;
            if (o.Autocomplete && o.Choices is { Count: > 0 })
                problems.Add($"{at}: autocomplete cannot be combined with choices");
            if ((o.Autocomplete || o.Choices is not null) && o.Type is not (CommandOptionType.String or CommandOptionType.Integer))
                problems.Add($"{at}: only STRING and INTEGER options take choices or autocomplete");
            if (o.Choices is { } choices)
            {
                if (choices.Count > MaxChoices)
                    problems.Add($"{at}: at most {MaxChoices} choices");
                foreach (var ch in choices)
                {
                    if (string.IsNullOrEmpty(ch.Name) || ch.Name.Length > 100)
                        problems.Add($"{at}: choice names must be 1–100 characters");
                    var okValue = (o.Type, ch.Value) switch
                    {
                        (CommandOptionType.String, string s) => s.Length <= 100,
                        (CommandOptionType.Integer, long or int) => true,
                        _ => false,
                    };
                    if (!okValue)
                        problems.Add($"{at}: choice '{ch.Name}' has a value of the wrong type or length");
                }
            }
            if (o.MinLength is < 0 or > 6000 || o.MaxLength is < 1 or > 6000 || o.MinLength > o.MaxLength)
                problems.Add($"{at}: min_length/max_length must be within 0–6000 and ordered");
            if ((o.MinLength is not null || o.MaxLength is not null) && o.Type != CommandOptionType.String)
                problems.Add($"{at}: min_length/max_length are only for STRING options");
            if ((o.MinValue is not null || o.MaxValue is not null) && o.Type != CommandOptionType.Integer)
                problems.Add($"{at}: min_value/max_value are only for INTEGER options");
            if (o.MinValue > o.MaxValue)
                problems.Add($"{at}: min_value must not exceed max_value");
        }
    }
}
