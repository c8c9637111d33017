using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dockhand.Discord.Gateway.JsonModels;

/// <summary>An outgoing gateway payload <c>{op,d}</c>.</summary>
internal sealed record JsonGatewayCommand<T>(int Op, T D);

internal sealed record JsonIdentify(string Token, int Intents, JsonIdentifyProperties Properties);

internal sealed record JsonIdentifyProperties(string Os, string Browser, string Device);

internal sealed record JsonResume(string Token, string SessionId, long Seq);

internal sealed record JsonHello(int HeartbeatInterval);

internal sealed record JsonReady(string SessionId, string? ResumeGatewayUrl, JsonReadyApplication? Application);

internal sealed record JsonReadyApplication(Snowflake Id);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(JsonGatewayCommand<JsonIdentify>))]
[JsonSerializable(typeof(JsonGatewayCommand<JsonResume>))]
[JsonSerializable(typeof(JsonGatewayCommand<long?>))]
[JsonSerializable(typeof(JsonGatewayCommand<JsonElement>))]
[JsonSerializable(typeof(JsonHello))]
[JsonSerializable(typeof(JsonReady))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
