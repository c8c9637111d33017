namespace Dockhand.Discord.Interactions;

/// <summary>
/// Discord's message limits and a fitter that truncates a message so that it is always valid. Lengths are counted in
/// UTF-16 code units, which is never less than Discord's count, and a cut never splits a surrogate pair.
/// </summary>
public static class DiscordLimits
{
    public const int ContentLength = 2000;
    public const int EmbedCount = 10;
    public const int EmbedTitleLength = 256;
    public const int EmbedDescriptionLength = 4096;
    public const int EmbedFieldCount = 25;
    public const int EmbedFieldNameLength = 256;
    public const int EmbedFieldValueLength = 1024;
    public const int EmbedFooterLength = 2048;
    public const int EmbedTotalLength = 6000;
    public const int ActionRowCount = 5;
    public const int ButtonsPerRow = 5;
    public const int ButtonLabelLength = 80;
    public const int CustomIdLength = 100;
    public const int ButtonUrlLength = 512;
    public const int AutocompleteChoiceCount = 25;
    public const int ChoiceNameLength = 100;
    public const int ChoiceStringValueLength = 100;

    private const string Ellipsis = "…";

    /// <summary>Truncates <paramref name="text"/> to at most <paramref name="max"/> UTF-16 units, ending with "…" when cut.</summary>
    public static string Truncate(string text, int max)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= max)
            return text;
        if (max <= 0)
            return "";
        if (max == 1)
            return CutAt(text, 1);
        return CutAt(text, max - Ellipsis.Length) + Ellipsis;
    }

    private static string CutAt(string text, int length)
    {
        if (length > 0 && char.IsHighSurrogate(text[length - 1]))
            length--;
        return text[..length];
    }

    /// <summary>Returns a copy of <paramref name="message"/> that fits every limit.</summary>
    public static DiscordMessage Fit(DiscordMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message with
        {
            Content = message.Content is null ? null : Truncate(message.Content, ContentLength),
            Embeds = message.Embeds is null ? null : FitEmbeds(message.Embeds),
            Components = message.Components is null ? null : FitComponents(message.Components),
        };
    }

    private static List<Embed> FitEmbeds(IReadOnlyList<Embed> embeds)
    {
        var budget = EmbedTotalLength;
        var result = new List<Embed>();
        foreach (var embed in embeds.Take(EmbedCount))
        {
            var title = Take(embed.Title, EmbedTitleLength, ref budget);
            var description = Take(embed.Description, EmbedDescriptionLength, ref budget);
            var fields = new List<EmbedField>();
            foreach (var field in embed.Fields.Take(EmbedFieldCount))
            {
                var name = string.IsNullOrWhiteSpace(field.Name) ? "\u200b" : field.Name;
                var value = string.IsNullOrWhiteSpace(field.Value) ? "\u200b" : field.Value;
                if (budget < 2)
                    break;
                var fittedName = Truncate(name, Math.Min(EmbedFieldNameLength, budget - 1));
                budget -= fittedName.Length;
                var fittedValue = Truncate(value, Math.Min(EmbedFieldValueLength, budget));
                if (fittedName.Length == 0 || fittedValue.Length == 0)
                {
                    budget += fittedName.Length;
                    break;
                }
                budget -= fittedValue.Length;
                fields.Add(field with { Name = fittedName, Value = fittedValue });
            }
            var footer = Take(embed.Footer, EmbedFooterLength, ref budget);
            var fitted = embed with { Title = title, Description = description, Fields = fields, Footer = footer };
            if (fitted.Title is null && fitted.Description is null && fields.Count == 0 && footer is null)
                break; // out of budget: an empty embed would be invalid
            result.Add(fitted);
        }
        return result;
    }

    private static string? Take(string? text, int max, ref int budget)
    {
        if (string.IsNullOrEmpty(text))
            return null;
        var fitted = Truncate(text, Math.Min(max, budget));
        if (fitted.Length == 0)
            return null;
        budget -= fitted.Length;
        return fitted;
    }

    private static List<ActionRow> FitComponents(IReadOnlyList<ActionRow> rows) =>
        [.. rows.Take(ActionRowCount)
            .Select(r => new ActionRow([.. r.Buttons.Take(ButtonsPerRow).Select(FitButton)]))
            .Where(r => r.Buttons.Count > 0)];

    private static Button FitButton(Button button)
    {
        var label = Truncate(string.IsNullOrEmpty(button.Label) ? "\u200b" : button.Label, ButtonLabelLength);
        return button switch
        {
            ActionButton a when a.CustomId.Length is 0 or > CustomIdLength =>
                throw new ArgumentException($"A button custom_id must be 1–{CustomIdLength} characters (got {a.CustomId.Length}).", nameof(button)),
            LinkButton l when l.Url.AbsoluteUri.Length > ButtonUrlLength =>
                throw new ArgumentException($"A link button URL must be at most {ButtonUrlLength} characters.", nameof(button)),
            _ => button with { Label = label },
        };
    }

    /// <summary>True when the message has something to show (content, an embed or a component).</summary>
    public static bool HasBody(DiscordMessage message) =>
        !string.IsNullOrEmpty(message.Content) || message.Embeds is { Count: > 0 } || message.Components is { Count: > 0 };
}
