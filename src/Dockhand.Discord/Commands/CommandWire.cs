using System.Text.Json;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.JsonModels;

namespace Dockhand.Discord.Commands;

/// <summary>Turns definitions into the bulk-overwrite body (deterministic bytes, so its hash is stable).</summary>
internal static class CommandWire
{
    /// <param name="global">False for a guild's commands: <c>contexts</c> is "only for globally-scoped commands"
    /// (Application Commands, "Application Command Object"), so it is left out.</param>
    public static byte[] Serialize(IReadOnlyList<SlashCommand> commands, bool global = true) =>
        JsonSerializer.SerializeToUtf8Bytes(ToJson(commands, global), DiscordJsonContext.Default.ListJsonApplicationCommand);

    public static List<JsonApplicationCommand> ToJson(IReadOnlyList<SlashCommand> commands, bool global = true) =>
        [.. commands.Select(c => new JsonApplicationCommand
        {
            Name = c.Name,
            Description = c.Description,
            Options = c.Options.Count == 0 ? null : [.. c.Options.Select(ToJson)],
            DefaultMemberPermissions = c.DefaultMemberPermissions,
            Contexts = c.Contexts is null || !global ? null : [.. c.Contexts],
        })];

    private static JsonCommandOption ToJson(CommandOption o) => new()
    {
        Type = (int)o.Type,
        Name = o.Name,
        Description = o.Description,
        Required = o.Required ? true : null,
        Autocomplete = o.Autocomplete ? true : null,
        Choices = o.Choices is null ? null : [.. o.Choices.Select(c => WireMapper.ToJson(new AutocompleteChoice(c.Name, c.Value)))],
        MinValue = o.MinValue,
        MaxValue = o.MaxValue,
        MinLength = o.MinLength,
        MaxLength = o.MaxLength,
        Options = o.Options is { Count: > 0 } sub ? [.. sub.Select(ToJson)] : null,
    };
}
