using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Discord.JsonModels;

/// <summary>An incoming interaction (gateway INTERACTION_CREATE's d, or the HTTP endpoint's body).</summary>
internal sealed class JsonInteraction
{
    [JsonPropertyName("id")] public Snowflake? Id { get; set; }
    [JsonPropertyName("application_id")] public Snowflake? ApplicationId { get; set; }
    [JsonPropertyName("type")] public int Type { get; set; }
    [JsonPropertyName("data")] public JsonInteractionData? Data { get; set; }
    [JsonPropertyName("guild_id")] public Snowflake? GuildId { get; set; }
    [JsonPropertyName("channel_id")] public Snowflake? ChannelId { get; set; }
    [JsonPropertyName("member")] public JsonGuildMember? Member { get; set; }
    [JsonPropertyName("user")] public JsonUser? User { get; set; }
    [JsonPropertyName("token")] public string? Token { get; set; }
    [JsonPropertyName("version")] public int Version { get; set; }
    [JsonPropertyName("message")] public JsonMessage? Message { get; set; }
    [JsonPropertyName("locale")] public string? Locale { get; set; }
}

internal sealed class JsonInteractionData
{
    [JsonPropertyName("id")] public Snowflake? Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("type")] public int? Type { get; set; }
    [JsonPropertyName("options")] public List<JsonInteractionOption>? Options { get; set; }
    [JsonPropertyName("resolved")] public JsonResolvedData? Resolved { get; set; }
    [JsonPropertyName("custom_id")] public string? CustomId { get; set; }
    [JsonPropertyName("component_type")] public int? ComponentType { get; set; }
    [JsonPropertyName("values")] public List<string>? Values { get; set; }
}

internal sealed class JsonInteractionOption
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("type")] public int Type { get; set; }
    [JsonPropertyName("value")] public JsonElement? Value { get; set; }
    [JsonPropertyName("options")] public List<JsonInteractionOption>? Options { get; set; }
    [JsonPropertyName("focused")] public bool? Focused { get; set; }
}

internal sealed class JsonResolvedData
{
    [JsonPropertyName("users")] public Dictionary<string, JsonUser>? Users { get; set; }
    [JsonPropertyName("members")] public Dictionary<string, JsonGuildMember>? Members { get; set; }
}

internal sealed class JsonGuildMember
{
    [JsonPropertyName("user")] public JsonUser? User { get; set; }
    [JsonPropertyName("nick")] public string? Nick { get; set; }
}

internal sealed class JsonUser
{
    [JsonPropertyName("id")] public Snowflake? Id { get; set; }
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("global_name")] public string? GlobalName { get; set; }
    [JsonPropertyName("discriminator")] public string? Discriminator { get; set; }
    [JsonPropertyName("bot")] public bool? Bot { get; set; }
}
