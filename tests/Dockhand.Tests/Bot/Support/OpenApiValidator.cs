using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Dockhand.Tests.Bot.Support;

/// <summary>
/// Validates request bodies against Discord's OpenAPI 3.1 document (../shared/discord/openapi.json): the request
/// schema of one operation is wrapped in a standalone 2020-12 schema whose <c>$defs</c> are the document's
/// <c>components.schemas</c> (refs rewritten from <c>#/components/schemas/X</c> to <c>#/$defs/X</c>).
/// </summary>
public static class OpenApiValidator
{
    public const string InteractionCallback = "/interactions/{interaction_id}/{interaction_token}/callback|post";
    public const string EditOriginal = "/webhooks/{webhook_id}/{webhook_token}/messages/@original|patch";
    public const string FollowUp = "/webhooks/{webhook_id}/{webhook_token}|post";
    public const string BulkCommands = "/applications/{application_id}/commands|put";
    public const string BulkGuildCommands = "/applications/{application_id}/guilds/{guild_id}/commands|put";

    private static readonly Lazy<JsonObject> Document = new(() => (JsonObject)JsonNode.Parse(File.ReadAllText(FindSpec()))!);
    private static readonly Lazy<string> Definitions = new(() =>
        Document.Value["components"]!["schemas"]!.ToJsonString().Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal));
    private static readonly Dictionary<string, JsonSchema> Schemas = [];
    private static readonly Lock Gate = new();

    /// <summary>The problems (empty when valid) of <paramref name="body"/> as the request body of <paramref name="operation"/>.</summary>
    public static IReadOnlyList<string> Validate(string operation, string body)
    {
        var schema = SchemaFor(operation);
        using var document = JsonDocument.Parse(body);
        var result = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid)
            return [];
        var problems = new List<string>();
        foreach (var detail in (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }))
            foreach (var error in detail.Errors!)
                problems.Add($"{operation} {detail.InstanceLocation} ({detail.EvaluationPath}): {error.Key} {error.Value}");
        return problems.Count == 0 ? [$"{operation}: invalid"] : problems;
    }

    public static void AssertValid(string operation, string body)
    {
        var problems = Validate(operation, body);
        Assert.True(problems.Count == 0, $"Body does not match Discord's OpenAPI schema:\n{string.Join('\n', problems.Take(20))}\nBody: {body}");
    }

    private static JsonSchema SchemaFor(string operation)
    {
        lock (Gate)
        {
            if (Schemas.TryGetValue(operation, out var cached))
                return cached;
            var (path, method) = (operation.Split('|')[0], operation.Split('|')[1]);
            var requestSchema = Document.Value["paths"]![path]![method]!["requestBody"]!["content"]!["application/json"]!["schema"]!.ToJsonString()
                .Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal);
            var id = "https://openapi.dockhand.test/" + Uri.EscapeDataString(operation.Replace('|', '_'));
            var text = $$"""{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"{{id}}","$defs":{{Definitions.Value}},"allOf":[{{requestSchema}}]}""";
            var schema = JsonSchema.FromText(text, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            Schemas[operation] = schema;
            return schema;
        }
    }

    /// <summary>Walks up from the test's base directory to the folder holding shared/discord/openapi.json.</summary>
    public static string FindSpec()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "discord", "openapi.json");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException("shared/discord/openapi.json was not found above " + AppContext.BaseDirectory + " (../shared must be beside the repository).");
    }
}
