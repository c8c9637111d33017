using System.Text.Json;
using Dockhand.Discord.Testing.Rest;
using Json.Schema;

namespace Dockhand.Discord.Testing.Contract;

/// <summary>A request body that does not match Discord's OpenAPI schema.</summary>
public sealed class OpenApiContractException(string message) : Exception(message);

/// <summary>
/// Validates request bodies against Discord's OpenAPI 3.1 document, vendored beside this file (Contract/openapi.json,
/// with its licence and source in Contract/SOURCE.md) and embedded in this assembly, so nothing outside the repository
/// is read. The document is registered once as a JSON Schema 2020-12 base document and each operation's
/// application/json request-body schema is reached by a $ref into it, so every $ref resolves in the real document (no
/// rewriting); OpenAPI's own keywords (discriminator, x-discord-*) are ignored as annotations.
/// </summary>
public static class OpenApiContract
{
    private static readonly Uri DocumentUri = new("https://discord.test/openapi.json");
    private static readonly Lazy<(JsonElement Root, BuildOptions Options)> Document = new(Load);

    /// <summary>The spec operation (path template, lower-case method) whose request body a loopback route carries.</summary>
    private static readonly Dictionary<string, (string Path, string Method)> RouteOperations = new()
    {
        [LoopbackDiscordRestServer.Routes.InteractionCallback] = ("/interactions/{interaction_id}/{interaction_token}/callback", "post"),
        [LoopbackDiscordRestServer.Routes.EditOriginal] = ("/webhooks/{webhook_id}/{webhook_token}/messages/@original", "patch"),
        [LoopbackDiscordRestServer.Routes.FollowUp] = ("/webhooks/{webhook_id}/{webhook_token}", "post"),
        [LoopbackDiscordRestServer.Routes.GlobalCommands] = ("/applications/{application_id}/commands", "put"),
        [LoopbackDiscordRestServer.Routes.GuildCommands] = ("/applications/{application_id}/guilds/{guild_id}/commands", "put"),
    };

    /// <summary>The manifest name of the embedded document (see the project file).</summary>
    internal const string ResourceName = "Dockhand.Discord.Testing.Contract.openapi.json";

    /// <summary>
    /// The spec operation for a <see cref="LoopbackDiscordRestServer.Routes"/> name (e.g. Routes.EditOriginal), or
    /// false when the route has no JSON request body to check.
    /// </summary>
    public static bool TryGetOperation(string route, out (string Path, string Method) operation) => RouteOperations.TryGetValue(route, out operation);

    /// <summary>The errors of <paramref name="body"/> against the request schema of <paramref name="method"/> <paramref name="pathTemplate"/>; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(string pathTemplate, string method, string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var (op, pointer, options) = Operation(pathTemplate, method);
        if (op is not { } found
            || !found.TryGetProperty("requestBody", out var requestBody)
            || !requestBody.GetProperty("content").TryGetProperty("application/json", out _))
            throw new ArgumentException($"No JSON request body for {method} {pathTemplate} in the spec.");
        return Evaluate(pointer + "/requestBody/content/application~1json/schema", options, body);
    }

    /// <summary>
    /// The errors of a response <paramref name="body"/> against the spec's application/json schema for
    /// <paramref name="status"/> (e.g. "200") of <paramref name="method"/> <paramref name="pathTemplate"/>: checks that what
    /// the loopback server answers has the shape Discord documents. Empty when valid.
    /// </summary>
    public static IReadOnlyList<string> ValidateResponse(string pathTemplate, string method, string body, string status = "200")
    {
        ArgumentNullException.ThrowIfNull(body);
        var (op, pointer, options) = Operation(pathTemplate, method);
        if (op is not { } found
            || !found.GetProperty("responses").TryGetProperty(status, out var response)
            || !response.TryGetProperty("content", out var content)
            || !content.TryGetProperty("application/json", out _))
            throw new ArgumentException($"No JSON {status} response for {method} {pathTemplate} in the spec.");
        return Evaluate(pointer + "/responses/" + status + "/content/application~1json/schema", options, body);
    }

    /// <summary>The spec's operation object for <paramref name="method"/> <paramref name="pathTemplate"/> (null when the spec has none) and its JSON pointer.</summary>
    private static (JsonElement? Operation, string Pointer, BuildOptions Options) Operation(string pathTemplate, string method)
    {
        ArgumentNullException.ThrowIfNull(pathTemplate);
        ArgumentNullException.ThrowIfNull(method);
        var (root, options) = Document.Value;
        var verb = method.ToLowerInvariant();
        var pointer = "#/paths/" + Escape(pathTemplate) + "/" + verb;
        return root.GetProperty("paths").TryGetProperty(pathTemplate, out var pathItem) && pathItem.TryGetProperty(verb, out var op)
            ? (op, pointer, options)
            : (null, pointer, options);
    }

    private static List<string> Evaluate(string pointer, BuildOptions options, string body)
    {
        var schema = JsonSchema.FromText($$"""{"$ref":"{{DocumentUri}}{{pointer}}"}""", options);
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

    /// <summary>Throws <see cref="OpenApiContractException"/> (listing the first problems and the body) when the body does not match.</summary>
    public static void AssertValid(string pathTemplate, string method, string body)
    {
        var errors = Validate(pathTemplate, method, body);
        if (errors.Count > 0)
            throw new OpenApiContractException(
                $"{method.ToUpperInvariant()} {pathTemplate}: body does not match Discord's OpenAPI schema:\n{string.Join('\n', errors.Take(20))}\nBody: {body}");
    }

    private static (JsonElement, BuildOptions) Load()
    {
        using var stream = typeof(OpenApiContract).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException(ResourceName + " is not embedded in " + typeof(OpenApiContract).Assembly.GetName().Name + "; see its project file.");
        using var doc = JsonDocument.Parse(stream);
        var root = doc.RootElement.Clone();
        var registry = new SchemaRegistry();
        registry.Register(DocumentUri, new JsonElementBaseDocument(root, DocumentUri));
        var dialect = Dialect.Draft202012.With([], allowUnknownKeywords: true);
        return (root, new BuildOptions { SchemaRegistry = registry, Dialect = dialect });
    }

    private static string Escape(string pathTemplate) =>
        Uri.EscapeDataString(pathTemplate.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal))
            .Replace("%7E", "~", StringComparison.Ordinal);
}
