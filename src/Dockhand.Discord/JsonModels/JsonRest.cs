using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Discord.JsonModels;

internal sealed class JsonApplicationCommand
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("description")] public string Description { get; set; } = "";
    [JsonPropertyName("type")] public int Type { get; set; } = 1;
    [JsonPropertyName("options")] public List<JsonCommandOption>? Options { get; set; }
    [JsonPropertyName("default_member_permissions")] public long? DefaultMemberPermissions { get; set; }
    [JsonPropertyName("contexts")] public List<int>? Contexts { get; set; }
}

internal sealed class JsonCommandOption
{
    [JsonPropertyName("type")] public int Type { get; set; }
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("description")] public string Description { get; set; } = "";
    [JsonPropertyName("required")] public bool? Required { get; set; }
    [JsonPropertyName("autocomplete")] public bool? Autocomplete { get; set; }
    [JsonPropertyName("choices")] public List<JsonCommandChoice>? Choices { get; set; }
    [JsonPropertyName("min_value")] public long? MinValue { get; set; }
    [JsonPropertyName("max_value")] public long? MaxValue { get; set; }
    [JsonPropertyName("min_length")] public int? MinLength { get; set; }
    [JsonPropertyName("max_length")] public int? MaxLength { get; set; }
    [JsonPropertyName("options")] public List<JsonCommandOption>? Options { get; set; }
}

internal sealed class JsonApplication
{
    [JsonPropertyName("id")] public Snowflake? Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
}

internal sealed class JsonGatewayBot
{
    [JsonPropertyName("url")] public string? Url { get; set; }
    [JsonPropertyName("shards")] public int Shards { get; set; }
    [JsonPropertyName("session_start_limit")] public JsonSessionStartLimit? SessionStartLimit { get; set; }
}

internal sealed class JsonSessionStartLimit
{
    [JsonPropertyName("total")] public int Total { get; set; }
    [JsonPropertyName("remaining")] public int Remaining { get; set; }
    [JsonPropertyName("reset_after")] public long ResetAfter { get; set; }
    [JsonPropertyName("max_concurrency")] public int MaxConcurrency { get; set; }
}

/// <summary>Discord's error shape; a 429 adds retry_after and global.</summary>
internal sealed class JsonDiscordError
{
    [JsonPropertyName("code")] public int Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
    [JsonPropertyName("retry_after")] public double? RetryAfter { get; set; }
    [JsonPropertyName("global")] public bool? Global { get; set; }
    [JsonPropertyName("errors")] public JsonElement? Errors { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JsonInteraction))]
[JsonSerializable(typeof(JsonInteractionResponse))]
[JsonSerializable(typeof(JsonWebhookMessage))]
[JsonSerializable(typeof(JsonMessage))]
[JsonSerializable(typeof(List<JsonApplicationCommand>))]
[JsonSerializable(typeof(JsonApplication))]
[JsonSerializable(typeof(JsonGatewayBot))]
[JsonSerializable(typeof(JsonDiscordError))]
[JsonSerializable(typeof(JsonUser))]
internal sealed partial class DiscordJsonContext : JsonSerializerContext;
