using System.Text.Json;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.JsonModels;
using Dockhand.Discord.Tests.Support;

namespace Dockhand.Discord.Tests.Interactions;

public sealed class DiscordLimitsTests
{
    private const string Whale = "🐳"; // a surrogate pair

    [Fact]
    public void Truncate_CutInsideSurrogatePair_NeverLeavesALoneSurrogate()
    {
        var text = new string('a', 1998) + Whale + Whale;

        var cut = DiscordLimits.Truncate(text, 2000);

        Assert.True(cut.Length <= 2000);
        Assert.False(char.IsHighSurrogate(cut[^2]) && !char.IsLowSurrogate(cut[^1]));
        Assert.All(cut.Select((ch, i) => (ch, i)), x => Assert.False(char.IsHighSurrogate(x.ch) && (x.i + 1 >= cut.Length || !char.IsLowSurrogate(cut[x.i + 1]))));
        Assert.EndsWith("…", cut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Truncate_TinyLimits_StayWithinLimit(int max)
    {
        var cut = DiscordLimits.Truncate(Whale + Whale + Whale, max);
        Assert.True(cut.Length <= max);
        Assert.False(cut.Length > 0 && char.IsHighSurrogate(cut[^1]));
    }

    [Fact]
    public void Truncate_ShortText_Unchanged() => Assert.Equal("hello", DiscordLimits.Truncate("hello", 2000));

    [Fact]
    public void Fit_OversizedEverything_ProducesMessageValidAgainstSpec()
    {
        var huge = string.Concat(Enumerable.Repeat("x" + Whale, 5000));
        var message = new DiscordMessage
        {
            Content = huge,
            Embeds = [.. Enumerable.Range(0, 12).Select(i => new Embed
            {
                Title = huge,
                Description = huge,
                Footer = huge,
                Fields = [.. Enumerable.Range(0, 30).Select(_ => new EmbedField(huge, huge)), new EmbedField("", "")],
            })],
            Components = [.. Enumerable.Range(0, 7).Select(_ => new ActionRow([.. Enumerable.Range(0, 7).Select(b => (Button)new ActionButton(huge, "id" + b))]))],
        };

        var fitted = DiscordLimits.Fit(message);
        var json = JsonSerializer.Serialize(WireMapper.ToWebhook(fitted, create: true), DiscordJsonContext.Default.JsonWebhookMessage);

        Assert.True(fitted.Content!.Length <= DiscordLimits.ContentLength);
        Assert.True(fitted.Embeds!.Count <= DiscordLimits.EmbedCount);
        var total = fitted.Embeds.Sum(e => (e.Title?.Length ?? 0) + (e.Description?.Length ?? 0) + (e.Footer?.Length ?? 0) + e.Fields.Sum(f => f.Name.Length + f.Value.Length));
        Assert.InRange(total, 1, DiscordLimits.EmbedTotalLength);
        Assert.All(fitted.Embeds.SelectMany(e => e.Fields), f => Assert.True(f.Name.Length is > 0 and <= 256 && f.Value.Length is > 0 and <= 1024));
        Assert.True(fitted.Components!.Count <= 5);
        Assert.All(fitted.Components, r => Assert.True(r.Buttons.Count <= 5 && r.Buttons.All(b => b.Label.Length <= 80)));
        Assert.DoesNotContain("\\uD83D\"", json, StringComparison.OrdinalIgnoreCase); // no lone high surrogate before a closing quote
        Assert.Empty(OpenApiContract.Validate("/webhooks/{webhook_id}/{webhook_token}", "post", json));
    }

    [Fact]
    public void Fit_EmptyFieldNameAndValue_ReplacedSoTheEmbedStaysValid()
    {
        var fitted = DiscordLimits.Fit(new DiscordMessage { Embeds = [new Embed { Fields = [new EmbedField("", " ")] }] });
        var field = Assert.Single(Assert.Single(fitted.Embeds!).Fields);
        Assert.NotEmpty(field.Name);
        Assert.NotEmpty(field.Value.Trim(' '));
    }

    [Fact]
    public void Fit_ButtonCustomIdTooLong_Throws() =>
        Assert.Throws<ArgumentException>(() => DiscordLimits.Fit(new DiscordMessage { Components = [new ActionRow(new ActionButton("x", new string('c', 101)))] }));

    [Fact]
    public void ToJson_MessageWithNothingToShow_Throws() =>
        Assert.Throws<ArgumentException>(() => WireMapper.ToJson(InteractionResponse.Message(new DiscordMessage { Content = "" })));
}
