using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Discord.JsonModels;

/// <summary>A message as Discord returns it (only the fields Dockhand reads).</summary>
internal sealed class JsonMessage
{
    [JsonPropertyName("id")] public Snowflake? Id { get; set; }
    [JsonPropertyName("channel_id")] public Snowflake? ChannelId { get; set; }
    [JsonPropertyName("content")] public string? Content { get; set; }
    [JsonPropertyName("flags")] public int? Flags { get; set; }
    [JsonPropertyName("embeds")] public List<JsonEmbed>? Embeds { get; set; }
    [JsonPropertyName("components")] public List<JsonComponent>? Components { get; set; }
}

/// <summary>Body of an interaction callback: {type, data}.</summary>
internal sealed class JsonInteractionResponse
{
    [JsonPropertyName("type")] public int Type { get; set; }
    [JsonPropertyName("data")] public JsonInteractionCallbackData? Data { get; set; }
}

/// <summary>Callback data: message fields for types 4/5/7, choices for type 8.</summary>
internal sealed class JsonInteractionCallbackData
{
    [JsonPropertyName("content")] public string? Content { get; set; }
    [JsonPropertyName("embeds")] public List<JsonEmbed>? Embeds { get; set; }
    [JsonPropertyName("components")] public List<JsonComponent>? Components { get; set; }
    [JsonPropertyName("allowed_mentions")] public JsonAllowedMentions? AllowedMentions { get; set; }
    [JsonPropertyName("flags")] public int? Flags { get; set; }
    [JsonPropertyName("choices")] public List<JsonCommandChoice>? Choices { get; set; }
}

/// <summary>Body of PATCH @original and of a follow-up POST.</summary>
internal sealed class JsonWebhookMessage
{
    [JsonPropertyName("content")] public string? Content { get; set; }
    [JsonPropertyName("embeds")] public List<JsonEmbed>? Embeds { get; set; }
    [JsonPropertyName("components")] public List<JsonComponent>? Components { get; set; }
    [JsonPropertyName("allowed_mentions")] public JsonAllowedMentions? AllowedMentions { get; set; }
    [JsonPropertyName("flags")] public int? Flags { get; set; }
}

internal sealed class JsonAllowedMentions
{
    [JsonPropertyName("parse")] public List<string> Parse { get; set; } = [];
}

internal sealed class JsonEmbed
{
    [JsonPropertyName("title")] public string? Title { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("url")] public string? Url { get; set; }
    [JsonPropertyName("color")] public int? Color { get; set; }
    [JsonPropertyName("timestamp")] public DateTimeOffset? Timestamp { get; set; }
    [JsonPropertyName("fields")] public List<JsonEmbedField>? Fields { get; set; }
    [JsonPropertyName("footer")] public JsonEmbedFooter? Footer { get; set; }
}

internal sealed class JsonEmbedField
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("value")] public string Value { get; set; } = "";
    [JsonPropertyName("inline")] public bool? Inline { get; set; }
}

internal sealed class JsonEmbedFooter
{
    [JsonPropertyName("text")] public string Text { get; set; } = "";
}

internal sealed class JsonComponent
{
    [JsonPropertyName("type")] public int Type { get; set; }
    [JsonPropertyName("components")] public List<JsonComponent>? Components { get; set; }
    [JsonPropertyName("style")] public int? Style { get; set; }
    [JsonPropertyName("label")] public string? Label { get; set; }
    [JsonPropertyName("custom_id")] public string? CustomId { get; set; }
    [JsonPropertyName("url")] public string? Url { get; set; }
    [JsonPropertyName("disabled")] public bool? Disabled { get; set; }
}

internal sealed class JsonCommandChoice
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("value")] public JsonElement Value { get; set; }
}
