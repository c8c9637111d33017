using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dockhand.Discord.Commands;

/// <summary>
/// Whether the commands Discord holds (GET …/commands?with_localizations=true) already are the ones a bulk overwrite
/// would upload, so the overwrite can be skipped (Discord allows 200 command creates per day per guild).
/// Both sides are brought to one form before comparing: only the fields a command is defined by (name, type,
/// description, localizations, options in order, choices, limits, default_member_permissions, nsfw, and contexts /
/// integration_types when we set them), with Discord's documented defaults filled in (type 1, required / autocomplete /
/// nsfw false, default_member_permissions null; it returns that one as a string, we send an integer). What Discord adds
/// (id, application_id, version, guild_id, default_permission, dm_permission) is left out, and so are contexts and
/// integration_types when we leave them unset, since Discord then fills in its own defaults (for integration_types the
/// app's settings). Commands are matched by type and name, in any order; one we do not upload (of any type: a bulk
/// overwrite replaces them all) is a difference.
/// </summary>
internal static class CommandComparison
{
    /// <summary>Null when <paramref name="registered"/> matches <paramref name="commands"/>; otherwise the first difference, in words.</summary>
    public static string? FindDifference(JsonArray registered, IReadOnlyList<SlashCommand> commands, bool global)
    {
        var wanted = (JsonArray)JsonNode.Parse(CommandWire.Serialize(commands, global))!;
        var held = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var node in registered)
        {
            if (node is not JsonObject command)
                return "Discord's list holds something that is not a command";
            var key = Key(command);
            if (!held.TryAdd(key, Canonical(command)))
                return $"Discord holds '{key}' twice";
        }
        if (held.Count == 0 && wanted.Count > 0)
            return "none are registered yet";
        foreach (var command in wanted.OfType<JsonObject>())
        {
            var key = Key(command);
            var ours = Canonical(command);
            if (!held.Remove(key, out var theirs))
                return $"'{key}' is new";
            // Unset on our side: Discord's defaults apply, whatever they are.
            foreach (var defaulted in new[] { "contexts", "integration_types" })
                if (ours[defaulted] is null)
                    theirs[defaulted] = null;
            if (!string.Equals(ours.ToJsonString(), theirs.ToJsonString(), StringComparison.Ordinal))
                return $"'{key}' changed";
        }
        return held.Count == 0 ? null : $"'{held.Keys.First()}' is no longer defined";
    }

    /// <summary>"create" for a slash command; "user:Profile" / "message:Quote" for the others, whose names may repeat a slash command's.</summary>
    private static string Key(JsonObject command)
    {
        var name = Text(command["name"]) ?? "";
        return (Integer(command["type"]) ?? 1) switch
        {
            1 => name,
            var type => type.ToString(CultureInfo.InvariantCulture) + ":" + name,
        };
    }

    private static JsonObject Canonical(JsonObject command) => new()
    {
        ["type"] = Integer(command["type"]) ?? 1,
        ["name"] = Text(command["name"]),
        ["name_localizations"] = Localizations(command["name_localizations"]),
        ["description"] = Text(command["description"]) ?? "",
        ["description_localizations"] = Localizations(command["description_localizations"]),
        ["default_member_permissions"] = Permissions(command["default_member_permissions"]),
        ["nsfw"] = Flag(command["nsfw"]),
        ["contexts"] = Set(command["contexts"]),
        ["integration_types"] = Set(command["integration_types"]),
        ["options"] = Options(command["options"]),
    };

    /// <summary>Options keep their order: it is the order Discord shows them in.</summary>
    private static JsonArray Options(JsonNode? options) => new([.. (options as JsonArray ?? []).Select(o => (JsonNode?)(o is JsonObject option ? new JsonObject
    {
        ["type"] = Integer(option["type"]),
        ["name"] = Text(option["name"]),
        ["name_localizations"] = Localizations(option["name_localizations"]),
        ["description"] = Text(option["description"]) ?? "",
        ["description_localizations"] = Localizations(option["description_localizations"]),
        ["required"] = Flag(option["required"]),
        ["autocomplete"] = Flag(option["autocomplete"]),
        ["choices"] = new JsonArray([.. (option["choices"] as JsonArray ?? []).Select(c => (JsonNode?)(c is JsonObject choice ? new JsonObject
        {
            ["name"] = Text(choice["name"]),
            ["name_localizations"] = Localizations(choice["name_localizations"]),
            ["value"] = Scalar(choice["value"]),
        } : Scalar(c)))]),
        ["channel_types"] = Set(option["channel_types"]),
        ["min_value"] = Scalar(option["min_value"]),
        ["max_value"] = Scalar(option["max_value"]),
        ["min_length"] = Scalar(option["min_length"]),
        ["max_length"] = Scalar(option["max_length"]),
        ["options"] = Options(option["options"]),
    } : Scalar(o)))]);

    private static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : node?.ToJsonString();

    private static int? Integer(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : null;

    private static bool Flag(JsonNode? node) => node?.GetValueKind() == JsonValueKind.True;

    /// <summary>Numbers as doubles (so 1 and 1.0 agree; Discord's are at most 2^53), strings as they are, anything else as its JSON text.</summary>
    private static JsonNode? Scalar(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => JsonValue.Create(v.GetValue<double>()),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => JsonValue.Create(v.GetValue<string>()),
        _ => JsonValue.Create(node.ToJsonString()),
    };

    /// <summary>A permission bit set as its decimal string ("0"), whether sent as an integer or returned as a string.</summary>
    private static string? Permissions(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var bits) => bits.ToString(CultureInfo.InvariantCulture),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => null,
    };

    /// <summary>An unordered list of integers (contexts, integration_types, channel_types), sorted; null when absent.</summary>
    private static JsonArray? Set(JsonNode? node) => node is JsonArray items
        ? new JsonArray([.. items.Select(i => Scalar(i)?.ToJsonString() ?? "null").Distinct().Order(StringComparer.Ordinal).Select(s => (JsonNode?)JsonValue.Create(s))])
        : null;

    /// <summary>A localization dictionary with its keys sorted; null when absent or empty.</summary>
    private static JsonObject? Localizations(JsonNode? node) => node is JsonObject { Count: > 0 } map
        ? new JsonObject(map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Scalar(p.Value))))
        : null;
}
