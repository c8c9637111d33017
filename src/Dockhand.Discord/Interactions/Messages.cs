namespace Dockhand.Discord.Interactions;

/// <summary>
/// A message to send (initial response, @original edit or follow-up). Limits are enforced when it is sent:
/// see <see cref="DiscordLimits.Fit(DiscordMessage)"/>. For an edit, a null Content/Embeds/Components leaves that part unchanged.
/// </summary>
public sealed record DiscordMessage
{
    public string? Content { get; init; }
    public IReadOnlyList<Embed>? Embeds { get; init; }
    public IReadOnlyList<ActionRow>? Components { get; init; }
    /// <summary>Only the invoker sees it (flag 64). Honoured on initial responses and follow-ups, not on edits.</summary>
    public bool Ephemeral { get; init; }

    public static DiscordMessage Text(string content, bool ephemeral = false) => new() { Content = content, Ephemeral = ephemeral };
}

public sealed record Embed
{
    public string? Title { get; init; }
    public string? Description { get; init; }
    public Uri? Url { get; init; }
    /// <summary>RGB colour, e.g. 0x2ECC71.</summary>
    public int? Color { get; init; }
    public DateTimeOffset? Timestamp { get; init; }
    public IReadOnlyList<EmbedField> Fields { get; init; } = [];
    public string? Footer { get; init; }
}

public sealed record EmbedField(string Name, string Value, bool Inline = false);

/// <summary>An action row (component type 1) of at most 5 buttons.</summary>
public sealed record ActionRow(IReadOnlyList<Button> Buttons)
{
    public ActionRow(params Button[] buttons) : this((IReadOnlyList<Button>)buttons) { }
}

public enum ButtonStyle
{
    Primary = 1,
    Secondary = 2,
    Success = 3,
    Danger = 4,
}

/// <summary>A button (component type 2): either <see cref="LinkButton"/> or <see cref="ActionButton"/>.</summary>
public abstract record Button(string Label)
{
    public bool Disabled { get; init; }
}

/// <summary>A link button (style 5): opens <paramref name="Url"/>; sends no interaction.</summary>
public sealed record LinkButton(string Label, Uri Url) : Button(Label);

/// <summary>A button that sends a MESSAGE_COMPONENT interaction with <paramref name="CustomId"/> (1–100 chars).</summary>
public sealed record ActionButton(string Label, string CustomId, ButtonStyle Style = ButtonStyle.Primary) : Button(Label);

/// <summary>An autocomplete choice. Value is a string or a long.</summary>
public sealed record AutocompleteChoice(string Name, object Value)
{
    public static AutocompleteChoice String(string name, string value) => new(name, value);
    public static AutocompleteChoice Integer(string name, long value) => new(name, value);
}

/// <summary>Interaction callback types (Discord, "Receiving and Responding": Interaction Callback Type).</summary>
public enum InteractionCallbackType
{
    Pong = 1,
    ChannelMessageWithSource = 4,
    DeferredChannelMessageWithSource = 5,
    DeferredUpdateMessage = 6,
    UpdateMessage = 7,
    ApplicationCommandAutocompleteResult = 8,
}

/// <summary>
/// The initial response to an interaction (exactly one per interaction). Build with the static factories.
/// </summary>
public abstract record InteractionResponse
{
    private protected InteractionResponse() { }

    /// <summary>Callback type as sent to Discord.</summary>
    public abstract InteractionCallbackType CallbackType { get; }

    /// <summary>Type 4: reply with a message.</summary>
    public static InteractionResponse Message(DiscordMessage message) => new MessageResponse(message);

    /// <summary>Type 4 shorthand.</summary>
    public static InteractionResponse Message(string content, bool ephemeral = false) => new MessageResponse(DiscordMessage.Text(content, ephemeral));

    /// <summary>Type 5: "thinking…"; edit @original later (within 15 minutes).</summary>
    public static InteractionResponse Deferred(bool ephemeral = false) => new DeferredMessageResponse(ephemeral);

    /// <summary>Type 7 (components only): update the message the component is on.</summary>
    public static InteractionResponse Update(DiscordMessage message) => new UpdateMessageResponse(message);

    /// <summary>Type 6 (components only): acknowledge now, edit the message later.</summary>
    public static InteractionResponse DeferredUpdate() => new DeferredUpdateResponse();

    /// <summary>Type 8 (autocomplete only): at most 25 choices; extra ones are dropped.</summary>
    public static InteractionResponse Autocomplete(IEnumerable<AutocompleteChoice> choices) => new AutocompleteResponse([.. choices]);
}

public sealed record MessageResponse(DiscordMessage Body) : InteractionResponse
{
    public override InteractionCallbackType CallbackType => InteractionCallbackType.ChannelMessageWithSource;
}

public sealed record DeferredMessageResponse(bool Ephemeral) : InteractionResponse
{
    public override InteractionCallbackType CallbackType => InteractionCallbackType.DeferredChannelMessageWithSource;
}

public sealed record DeferredUpdateResponse : InteractionResponse
{
    public override InteractionCallbackType CallbackType => InteractionCallbackType.DeferredUpdateMessage;
}

public sealed record UpdateMessageResponse(DiscordMessage Body) : InteractionResponse
{
    public override InteractionCallbackType CallbackType => InteractionCallbackType.UpdateMessage;
}

public sealed record AutocompleteResponse(IReadOnlyList<AutocompleteChoice> Choices) : InteractionResponse
{
    public override InteractionCallbackType CallbackType => InteractionCallbackType.ApplicationCommandAutocompleteResult;
}

/// <summary>Type 1, only for PING on the HTTP endpoint.</summary>
internal sealed record PongResponse : InteractionResponse
{
    public override InteractionCallbackType CallbackType => InteractionCallbackType.Pong;
}

/// <summary>A message Discord returned (@original, follow-ups).</summary>
public sealed record SentMessage(Snowflake Id, Snowflake? ChannelId, string? Content, int Flags);
