using System.Text.Json;
using Json.Schema;

namespace Dockhand.Discord.Tests.Support;

/// <summary>
/// Validates request bodies against ../shared/discord/openapi.json (JSON Schema 2020-12 with $refs into components),
/// resolving each operation's application/json request-body schema by path and method.
/// </summary>
internal static class OpenApiContract
{
    private static readonly Uri DocumentUri = new("https://discord.test/openapi.json");
    private static readonly Lazy<(JsonElement Root, BuildOptions Options)> Document = new(Load);

    public static string SpecPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "discord", "openapi.json");
                if (File.Exists(candidate))
                    return candidate;
            }
            throw new FileNotFoundException("shared/discord/openapi.json not found above " + AppContext.BaseDirectory);
        }
    }

    private static (JsonElement, BuildOptions) Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(SpecPath));
        var root = doc.RootElement.Clone();
        var registry = new SchemaRegistry();
        registry.Register(DocumentUri, new JsonElementBaseDocument(root, DocumentUri));
        // OpenAPI adds keywords (x-discord-union, discriminator…) that 2020-12 ignores as annotations.
        var dialect = Dialect.Draft202012.With([], allowUnknownKeywords: true);
        return (root, new BuildOptions { SchemaRegistry = registry, Dialect = dialect });
    }

    /// <summary>The errors of <paramref name="body"/> against the request schema of <paramref name="method"/> <paramref name="pathTemplate"/>; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(string pathTemplate, string method, string body)
    {
        var (root, options) = Document.Value;
        if (!root.GetProperty("paths").TryGetProperty(pathTemplate, out var pathItem)
            || !pathItem.TryGetProperty(method.ToLowerInvariant(), out var op)
            || !op.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _))
            throw new ArgumentException($"No JSON request body for {method} {pathTemplate} in the spec.");
        var pointer = "#/paths/" + Escape(pathTemplate) + "/" + method.ToLowerInvariant() + "/requestBody/content/application~1json/schema";
        var wrapper = $$"""{"$ref":"{{DocumentUri}}{{pointer}}"}""";
        var schema = JsonSchema.FromText(wrapper, options);
        using var instance = JsonDocument.Parse(body);
        var result = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid)
            return [];
        var errors = new List<string>();
        foreach (var d in result.Details ?? [])
            if (d.Errors is { } e)
                foreach (var (k, v) in e)
                    errors.Add($"{d.InstanceLocation} ({d.EvaluationPath}) {k}: {v}");
        return errors.Count > 0 ? errors : ["invalid (no details)"];
    }

    private static string Escape(string pathTemplate) =>
        Uri.EscapeDataString(pathTemplate.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal))
            .Replace("%7E", "~", StringComparison.Ordinal);
}
