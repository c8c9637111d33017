using System.Globalization;
using System.Text.Json;
using Dockhand.Discord.JsonModels;

namespace Dockhand.Discord.Interactions;

/// <summary>Maps the public model to wire DTOs and back. Every outgoing message passes through <see cref="DiscordLimits.Fit"/>.</summary>
internal static class WireMapper
{
    public const int EphemeralFlag = 64;

    public static JsonInteractionResponse ToJson(InteractionResponse response) => response switch
    {
        MessageResponse m => new() { Type = (int)m.CallbackType, Data = ToCallbackData(RequireBody(m.Body), includeFlags: true) },
        DeferredMessageResponse d => new() { Type = (int)d.CallbackType, Data = d.Ephemeral ? new() { Flags = EphemeralFlag } : null },
        DeferredUpdateResponse u => new() { Type = (int)u.CallbackType },
        UpdateMessageResponse u => new() { Type = (int)u.CallbackType, Data = ToCallbackData(u.Body, includeFlags: false) },
        AutocompleteResponse a => new() { Type = (int)a.CallbackType, Data = new() { Choices = [.. a.Choices.Take(DiscordLimits.AutocompleteChoiceCount).Select(ToJson)] } },
        PongResponse p => new() { Type = (int)p.CallbackType },
        _ => throw new ArgumentOutOfRangeException(nameof(response), response.GetType().Name, "Unknown response kind."),
    };

    private static DiscordMessage RequireBody(DiscordMessage message) =>
        DiscordLimits.HasBody(message) ? message : throw new ArgumentException("A message needs content, an embed or a component.", nameof(message));

    private static JsonInteractionCallbackData ToCallbackData(DiscordMessage message, bool includeFlags)
    {
        var m = DiscordLimits.Fit(message);
        return new()
        {
            Content = m.Content,
            Embeds = m.Embeds?.Select(ToJson).ToList(),
            Components = m.Components?.Select(ToJson).ToList(),
            AllowedMentions = new(),
            Flags = includeFlags && m.Ephemeral ? EphemeralFlag : null,
        };
    }

    /// <summary>Body of a follow-up (<paramref name="create"/>) or of a PATCH @original.</summary>
    public static JsonWebhookMessage ToWebhook(DiscordMessage message, bool create)
    {
        if (create)
            RequireBody(message);
        var m = DiscordLimits.Fit(message);
        return new()
        {
            Content = m.Content,
            Embeds = m.Embeds?.Select(ToJson).ToList(),
            Components = m.Components?.Select(ToJson).ToList(),
            AllowedMentions = new(),
            Flags = create && m.Ephemeral ? EphemeralFlag : null,
        };
    }

    private static JsonEmbed ToJson(Embed e) => new()
    {
        Title = e.Title,
        Description = e.Description,
        Url = e.Url?.AbsoluteUri,
        Color = e.Color,
        Timestamp = e.Timestamp,
        Fields = e.Fields.Count == 0 ? null : [.. e.Fields.Select(f => new JsonEmbedField { Name = f.Name, Value = f.Value, Inline = f.Inline ? true : null })],
        Footer = e.Footer is null ? null : new() { Text = e.Footer },
    };

    private static JsonComponent ToJson(ActionRow row) => new() { Type = 1, Components = [.. row.Buttons.Select(ToJson)] };

    private static JsonComponent ToJson(Button b) => b switch
    {
        LinkButton l => new() { Type = 2, Style = 5, Label = l.Label, Url = l.Url.AbsoluteUri, Disabled = l.Disabled ? true : null },
        ActionButton a => new() { Type = 2, Style = (int)a.Style, Label = a.Label, CustomId = a.CustomId, Disabled = a.Disabled ? true : null },
        _ => throw new ArgumentOutOfRangeException(nameof(b), b.GetType().Name, "Unknown button kind."),
    };

    public static JsonCommandChoice ToJson(AutocompleteChoice c) => new()
    {
        Name = DiscordLimits.Truncate(string.IsNullOrEmpty(c.Name) ? "-" : c.Name, DiscordLimits.ChoiceNameLength),
        Value = c.Value switch
        {
            string s => JsonSerializer.SerializeToElement(DiscordLimits.Truncate(s, DiscordLimits.ChoiceStringValueLength), DiscordJsonContext.Default.String),
            long l => JsonSerializer.SerializeToElement(l, DiscordJsonContext.Default.Int64),
            int i => JsonSerializer.SerializeToElement((long)i, DiscordJsonContext.Default.Int64),
            _ => throw new ArgumentException("A choice value is a string or an integer.", nameof(c)),
        },
    };

    public static SentMessage FromJson(JsonMessage m) =>
        new(m.Id ?? throw new JsonException("A message without an id."), m.ChannelId, m.Content, m.Flags ?? 0);

    public static DiscordUser? FromJson(JsonUser? u) =>
        u?.Id is not { } id ? null : new DiscordUser(id, u.Username ?? "", u.GlobalName, u.Bot ?? false);

    /// <summary>Parses an interaction; null when required fields are missing or malformed.</summary>
    public static Interaction? Parse(JsonInteraction? j)
    {
        if (j?.Id is not { } id || j.ApplicationId is not { } appId
            || string.IsNullOrEmpty(j.Token) || j.Type is < 1 or > 5)
            return null;
        var type = (InteractionType)j.Type;
        var user = FromJson(j.Member?.User) ?? FromJson(j.User);
        if (user is null && type != InteractionType.Ping)
            return null;

        var options = j.Data?.Options;
        string? subcommand = null;
        if (options is [{ Type: 2 } group])
        {
            options = group.Options;
            if (options is [{ Type: 1 } sub])
            {
                subcommand = $"{group.Name} {sub.Name}";
                options = sub.Options;
            }
        }
        else if (options is [{ Type: 1 } sub])
        {
            subcommand = sub.Name;
            options = sub.Options;
        }

        var resolvedUsers = j.Data?.Resolved?.Users;
        return new Interaction
        {
            Id = id,
            ApplicationId = appId,
            Type = type,
            Token = j.Token,
            User = user ?? new DiscordUser(default, "", null),
            GuildId = j.GuildId,
            ChannelId = j.ChannelId,
            CommandName = j.Data?.Name,
            SubcommandName = subcommand,
            Options = options is null ? [] : [.. options.Where(o => o.Name is not null).Select(o => ToOption(o, resolvedUsers))],
            CustomId = j.Data?.CustomId,
            ComponentType = j.Data?.ComponentType,
            Values = j.Data?.Values ?? [],
            MessageId = j.Message?.Id,
        };
    }

    private static InteractionOption ToOption(JsonInteractionOption o, Dictionary<string, JsonUser>? resolvedUsers)
    {
        var type = (CommandOptionType)o.Type;
        var focused = o.Focused ?? false;
        object? value = null;
        DiscordUser? resolved = null;
        if (o.Value is { } v)
        {
            value = (type, v.ValueKind) switch
            {
                (_, JsonValueKind.String) when type == CommandOptionType.User => Snowflake.ParseOrNull(v.GetString()),
                (CommandOptionType.Integer, JsonValueKind.Number) when v.TryGetInt64(out var l) => l,
                (CommandOptionType.Boolean, JsonValueKind.True) => true,
                (CommandOptionType.Boolean, JsonValueKind.False) => false,
                (_, JsonValueKind.String) => v.GetString(),
                (_, JsonValueKind.Number) when v.TryGetInt64(out var l) => l,
                (_, JsonValueKind.Number) => v.GetDouble(),
                _ => null,
            };
            if (type == CommandOptionType.User && value is Snowflake userId && resolvedUsers is not null
                && resolvedUsers.TryGetValue(userId.ToString(), out var ju))
                resolved = FromJson(ju);
        }
        return new InteractionOption(o.Name!, type, value, focused) { ResolvedUser = resolved };
    }
}
