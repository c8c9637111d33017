using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dockhand.Discord.Testing.Rest;

/// <summary>Discord's documented limits for message bodies, as the loopback server enforces them.</summary>
internal static class MessageRules
{
    /// <summary>Problems as (path, message); empty when valid. <paramref name="create"/> requires something to show.</summary>
    public static List<(string Path, string Message)> CheckMessage(JsonObject? m, string path, bool create)
    {
        var problems = new List<(string, string)>();
        if (m is null)
        {
            if (create)
                problems.Add((path, "Cannot send an empty message"));
            return problems;
        }
        var content = Str(m, "content");
        if (content is not null)
            CheckText(content, path + ".content", 0, 2000, problems);
        var embeds = m["embeds"] as JsonArray;
        var components = m["components"] as JsonArray;
        if (create && string.IsNullOrEmpty(content) && (embeds is null || embeds.Count == 0) && (components is null || components.Count == 0))
            problems.Add((path, "Cannot send an empty message"));
        if (embeds is not null)
        {
            if (embeds.Count > 10)
                problems.Add((path + ".embeds", "Must be 10 or fewer in length."));
            var total = 0;
            for (var i = 0; i < embeds.Count; i++)
            {
                var e = embeds[i] as JsonObject;
                var ep = $"{path}.embeds.{i}";
                if (e is null)
                {
                    problems.Add((ep, "Must be an object"));
                    continue;
                }
                total += CheckText(Str(e, "title"), ep + ".title", 0, 256, problems);
                total += CheckText(Str(e, "description"), ep + ".description", 0, 4096, problems);
                total += CheckText(Str(e["footer"] as JsonObject, "text"), ep + ".footer.text", 0, 2048, problems);
                total += CheckText(Str(e["author"] as JsonObject, "name"), ep + ".author.name", 0, 256, problems);
                if (e["fields"] is JsonArray fields)
                {
                    if (fields.Count > 25)
                        problems.Add((ep + ".fields", "Must be 25 or fewer in length."));
                    for (var f = 0; f < fields.Count; f++)
                    {
                        var field = fields[f] as JsonObject;
                        total += CheckText(Str(field, "name"), $"{ep}.fields.{f}.name", 1, 256, problems, required: true);
                        total += CheckText(Str(field, "value"), $"{ep}.fields.{f}.value", 1, 1024, problems, required: true);
                    }
                }
            }
            if (total > 6000)
                problems.Add((path + ".embeds", "Embed size exceeds maximum size of 6000"));
        }
        if (components is not null)
            CheckComponents(components, path + ".components", problems);
        return problems;
    }

    private static void CheckComponents(JsonArray rows, string path, List<(string, string)> problems)
    {
        if (rows.Count > 5)
            problems.Add((path, "Must be 5 or fewer in length."));
        for (var r = 0; r < rows.Count; r++)
        {
            var row = rows[r] as JsonObject;
            var rp = $"{path}.{r}";
            if (Int(row, "type") != 1 || row?["components"] is not JsonArray buttons || buttons.Count is 0 or > 5)
            {
                problems.Add((rp, "An action row (type 1) holds 1 to 5 components"));
                continue;
            }
            for (var b = 0; b < buttons.Count; b++)
            {
                var button = buttons[b] as JsonObject;
                var bp = $"{rp}.components.{b}";
                if (Int(button, "type") != 2)
                {
                    problems.Add((bp, "Only buttons are supported here"));
                    continue;
                }
                CheckText(Str(button, "label"), bp + ".label", 0, 80, problems);
                var style = Int(button, "style");
                var url = Str(button, "url");
                var customId = Str(button, "custom_id");
                if (style == 5)
                {
                    if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https" or "discord") || url.Length > 512)
                        problems.Add((bp + ".url", "A link button needs a valid URL of at most 512 characters"));
                    if (customId is not null)
                        problems.Add((bp + ".custom_id", "A link button cannot have a custom_id"));
                }
                else if (style is >= 1 and <= 4)
                {
                    if (customId is null || customId.Length is 0 or > 100)
                        problems.Add((bp + ".custom_id", "A button needs a custom_id of 1 to 100 characters"));
                    if (url is not null)
                        problems.Add((bp + ".url", "Only link buttons have a URL"));
                }
                else
                    problems.Add((bp + ".style", "Unknown button style"));
            }
        }
    }

    public static List<(string Path, string Message)> CheckChoices(JsonObject? data)
    {
        var problems = new List<(string, string)>();
        if (data?["choices"] is not JsonArray choices)
        {
            problems.Add(("data.choices", "This field is required"));
            return problems;
        }
        if (choices.Count > 25)
            problems.Add(("data.choices", "Must be 25 or fewer in length."));
        for (var i = 0; i < choices.Count; i++)
        {
            var c = choices[i] as JsonObject;
            CheckText(Str(c, "name"), $"data.choices.{i}.name", 1, 100, problems, required: true);
            var value = c?["value"];
            if (value is null || value.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number))
                problems.Add(($"data.choices.{i}.value", "A choice value is a string or a number"));
            else if (value.GetValueKind() == JsonValueKind.String)
                CheckText(value.GetValue<string>(), $"data.choices.{i}.value", 0, 100, problems);
        }
        return problems;
    }

    /// <summary>Command definitions per Discord's rules (names, descriptions, option order, choices vs autocomplete).</summary>
    public static List<(string Path, string Message)> CheckCommands(JsonNode? body)
    {
        var problems = new List<(string, string)>();
        if (body is not JsonArray commands)
        {
            problems.Add(("", "Expected an array of commands"));
            return problems;
        }
        if (commands.Count > 100)
            problems.Add(("", "Must be 100 or fewer in length."));
        for (var i = 0; i < commands.Count; i++)
        {
            var c = commands[i] as JsonObject;
            CheckName(Str(c, "name"), $"{i}.name", problems);
            CheckText(Str(c, "description"), $"{i}.description", 1, 100, problems, required: true);
            CheckOptions(c?["options"] as JsonArray, $"{i}.options", problems);
        }
        return problems;
    }

    private static void CheckOptions(JsonArray? options, string path, List<(string, string)> problems)
    {
        if (options is null)
            return;
        if (options.Count > 25)
            problems.Add((path, "Must be 25 or fewer in length."));
        var seenOptional = false;
        for (var i = 0; i < options.Count; i++)
        {
            var o = options[i] as JsonObject;
            var op = $"{path}.{i}";
            CheckName(Str(o, "name"), op + ".name", problems);
            CheckText(Str(o, "description"), op + ".description", 1, 100, problems, required: true);
            var type = Int(o, "type");
            if (type is 1 or 2)
            {
                CheckOptions(o?["options"] as JsonArray, op + ".options", problems);
                continue;
            }
            var required = o?["required"]?.GetValueKind() == JsonValueKind.True;
            if (required && seenOptional)
                problems.Add((op + ".required", "Required options must be placed before non-required options"));
            seenOptional |= !required;
            var autocomplete = o?["autocomplete"]?.GetValueKind() == JsonValueKind.True;
            if (autocomplete && o?["choices"] is JsonArray { Count: > 0 })
                problems.Add((op + ".autocomplete", "Autocomplete cannot be set with choices"));
        }
    }

    private static void CheckName(string? name, string path, List<(string, string)> problems)
    {
        if (name is null || name.Length is 0 or > 32 || name.Any(ch => char.IsUpper(ch) || char.IsWhiteSpace(ch)))
            problems.Add((path, "Command and option names are 1-32 lowercase characters without spaces"));
    }

    /// <summary>Checks length in code points (as Discord counts) and rejects lone surrogates; returns the length.</summary>
    private static int CheckText(string? text, string path, int min, int max, List<(string, string)> problems, bool required = false)
    {
        if (text is null)
        {
            if (required)
                problems.Add((path, "This field is required"));
            return 0;
        }
        if (!IsWellFormed(text))
        {
            problems.Add((path, "Invalid string: lone surrogate"));
            return text.Length;
        }
        var length = text.EnumerateRunes().Count();
        if (length < min || length > max)
            problems.Add((path, $"Must be between {min} and {max} in length."));
        return length;
    }

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                    return false;
                i++;
            }
            else if (char.IsLowSurrogate(text[i]))
                return false;
        }
        return true;
    }

    private static string? Str(JsonObject? o, string name) =>
        o?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static int? Int(JsonObject? o, string name) =>
        o?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : null;

    /// <summary>
    /// Discord's error body (Opcodes and Status Codes, "Error Messages"): errors nest by field path, e.g.
    /// {"code":50035,"message":"Invalid Form Body","errors":{"data":{"embeds":{"0":{"title":{"_errors":[{"code":…,"message":…}]}}}}}}.
    /// </summary>
    public static JsonObject FormError(IEnumerable<(string Path, string Message)> problems)
    {
        var errors = new JsonObject();
        foreach (var (path, message) in problems)
        {
            var node = errors;
            foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                if (node[part] is not JsonObject child)
                    node[part] = child = new JsonObject();
                node = child;
            }
            if (node["_errors"] is not JsonArray list)
                node["_errors"] = list = new JsonArray();
            list.Add(new JsonObject { ["code"] = "BASE_TYPE_BAD", ["message"] = message });
        }
        return new JsonObject { ["code"] = 50035, ["message"] = "Invalid Form Body", ["errors"] = errors };
    }

    internal static string Describe(IEnumerable<(string Path, string Message)> problems)
    {
        var sb = new StringBuilder();
        foreach (var (p, m) in problems)
            sb.Append(p).Append(": ").Append(m).Append("; ");
        return sb.ToString();
    }
}
