using System.Globalization;
using System.Text.Json.Nodes;

namespace Dockhand.Discord.Testing.Rest;

/// <summary>An option of a test interaction. For USER options pass the user id as a string and set ResolvedUsername.</summary>
public sealed record TestOption(string Name, int Type, JsonNode? Value, bool Focused = false, string? ResolvedUsername = null);

/// <summary>Builds interaction payloads shaped like Discord's (DESIGN §3), for the gateway and the HTTP endpoint.</summary>
public static class InteractionPayloads
{
    private static long s_next = 1_200_000_000_000_000_000;

    /// <summary>A fresh snowflake-like id.</summary>
    public static ulong NextId() => (ulong)Interlocked.Increment(ref s_next);

    /// <summary>
    /// A fresh interaction id whose snowflake timestamp is <paramref name="createdAt"/> (default: now), as Discord's ids
    /// are: a client computes the token's 15-minute life from it (Reference, "Snowflakes": ms since 2015-01-01 &lt;&lt; 22).
    /// </summary>
    public static ulong NextInteractionId(DateTimeOffset? createdAt = null) =>
        ((ulong)((createdAt ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds() - 1_420_070_400_000) << 22) | ((ulong)Interlocked.Increment(ref s_increment) & 0x3FFFFF);

    private static long s_increment;

    public static string Ping(ulong applicationId) =>
        new JsonObject { ["id"] = Id(NextId()), ["application_id"] = Id(applicationId), ["type"] = 1, ["token"] = "ping-token", ["version"] = 1 }.ToJsonString();

    /// <summary>A slash command; in a guild when <paramref name="guildId"/> is set (member.user), else a DM (user).</summary>
    public static JsonObject SlashCommand(ulong applicationId, string token, ulong userId, string commandName, IEnumerable<TestOption>? options = null,
        ulong? guildId = null, int type = 2, string? subcommand = null)
    {
        var opts = new JsonArray();
        var users = new JsonObject();
        foreach (var o in options ?? [])
        {
            var node = new JsonObject { ["name"] = o.Name, ["type"] = o.Type, ["value"] = o.Value?.DeepClone() };
            if (o.Focused)
                node["focused"] = true;
            opts.Add(node);
            if (o.Type == 6 && o.ResolvedUsername is not null && o.Value is not null)
                users[o.Value.GetValue<string>()] = User(ulong.Parse(o.Value.GetValue<string>(), CultureInfo.InvariantCulture), o.ResolvedUsername);
        }
        if (subcommand is not null)
            opts = [new JsonObject { ["name"] = subcommand, ["type"] = 1, ["options"] = opts }];
        var data = new JsonObject { ["id"] = Id(NextId()), ["name"] = commandName, ["type"] = 1, ["options"] = opts };
        if (users.Count > 0)
            data["resolved"] = new JsonObject { ["users"] = users };
        return Envelope(applicationId, token, userId, type, data, guildId);
    }

    /// <summary>An autocomplete interaction (type 4) with one focused option.</summary>
    public static JsonObject Autocomplete(ulong applicationId, string token, ulong userId, string commandName, string optionName, string partial, ulong? guildId = null) =>
        SlashCommand(applicationId, token, userId, commandName, [new TestOption(optionName, 3, partial, Focused: true)], guildId, type: 4);

    /// <summary>A button press (type 3).</summary>
    public static JsonObject Button(ulong applicationId, string token, ulong userId, string customId, ulong? guildId = null)
    {
        var envelope = Envelope(applicationId, token, userId, 3, new JsonObject { ["custom_id"] = customId, ["component_type"] = 2 }, guildId);
        envelope["message"] = new JsonObject { ["id"] = Id(NextId()), ["channel_id"] = Id(NextId()), ["content"] = "", ["flags"] = 0 };
        return envelope;
    }

    public static JsonObject User(ulong id, string username, string? globalName = null) => new()
    {
        ["id"] = Id(id), ["username"] = username, ["global_name"] = globalName, ["discriminator"] = "0", ["avatar"] = null,
    };

    private static JsonObject Envelope(ulong applicationId, string token, ulong userId, int type, JsonObject data, ulong? guildId)
    {
        var o = new JsonObject
        {
            ["id"] = Id(NextInteractionId()),
            ["application_id"] = Id(applicationId),
            ["type"] = type,
            ["data"] = data,
            ["channel_id"] = Id(NextId()),
            ["token"] = token,
            ["version"] = 1,
            ["locale"] = "en-US",
        };
        if (guildId is { } g)
        {
            o["guild_id"] = Id(g);
            o["member"] = new JsonObject { ["user"] = User(userId, "user" + userId), ["roles"] = new JsonArray(), ["nick"] = null };
        }
        else
            o["user"] = User(userId, "user" + userId);
        return o;
    }

    private static string Id(ulong id) => id.ToString(CultureInfo.InvariantCulture);
}
