using Dockhand.Bot;
using Dockhand.Containers;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Tests.Bot;

/// <summary>Pieces of the bot without a host.</summary>
public sealed class BotUnitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PullProgressEditor_ManyReportsInOneSecond_AtMostOneEditPerSecond()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var edits = new List<string>();
        var editor = new PullProgressEditor((text, _) =>
        {
            lock (edits)
                edits.Add(text);
            return Task.CompletedTask;
        }, time, TimeSpan.FromSeconds(1), NullLogger.Instance, 1, Ct);

        for (var i = 0; i < 50; i++)
        {
            editor.Report(new PullProgress("ubuntu:24.04", "Downloading", i * 1024 * 1024, 100L * 1024 * 1024));
            time.Advance(TimeSpan.FromMilliseconds(100));
        }
        await editor.DrainAsync();
        editor.Report(new PullProgress("ubuntu:24.04", "late", null, null));

        Assert.Equal(5, edits.Count);
        Assert.Equal("Pulling `ubuntu:24.04`: Downloading (0 % of 100.0 MiB)…", edits[0]);
        Assert.Equal("Pulling `ubuntu:24.04`: Downloading (10 % of 100.0 MiB)…", edits[1]);
    }

    [Fact]
    public async Task PullProgressEditor_EditStillInFlight_NextReportDropped()
    {
        var time = new FakeTimeProvider();
        var release = new TaskCompletionSource();
        var calls = 0;
        var editor = new PullProgressEditor(async (_, _) =>
        {
            Interlocked.Increment(ref calls);
            await release.Task;
        }, time, TimeSpan.FromSeconds(1), NullLogger.Instance, 1, Ct);

        editor.Report(new PullProgress("a", "one", null, null));
        time.Advance(TimeSpan.FromSeconds(5));
        editor.Report(new PullProgress("a", "two", null, null));
        var drained = editor.DrainAsync();
        Assert.False(drained.IsCompleted);
        release.SetResult();
        await drained;

        Assert.Equal(1, calls);
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData(" 80351110224678912 , 80351110224678913,80351110224678912", 2)]
    public void BotOptions_ValidList_Parsed(string value, int count) =>
        Assert.Equal(count, BotOptions.ParseAuthorizedUsers(value).Count);

    [Theory]
    [InlineData("abc")]
    [InlineData("123,-5")]
    [InlineData("0")]
    [InlineData("123456789012345678901234")]
    public void BotOptions_Invalid_ThrowsNamingTheKey(string value)
    {
        var e = Assert.Throws<InvalidSettingException>(() => BotOptions.ParseAuthorizedUsers(value));
        Assert.StartsWith("AUTHORIZED_USERS: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenApiValidator_BrokenCallback_Rejected()
    {
        Assert.Empty(OpenApiValidator.Validate(OpenApiValidator.InteractionCallback, """{"type":4,"data":{"content":"hi","flags":64}}"""));
        Assert.NotEmpty(OpenApiValidator.Validate(OpenApiValidator.InteractionCallback, """{"type":4,"data":{"content":12}}"""));
        Assert.NotEmpty(OpenApiValidator.Validate(OpenApiValidator.EditOriginal, """{"embeds":[{"title":7}]}"""));
    }

    [Fact]
    public void BotCommands_Definitions_SatisfyDiscordNamingRules()
    {
        Assert.Equal(8, BotCommands.All.Count);
        foreach (var command in BotCommands.All)
        {
            Assert.Matches("^[a-z_]{1,32}$", command.Name);
            Assert.InRange(command.Description.Length, 1, 100);
            foreach (var option in command.Options)
            {
                Assert.Matches("^[a-z_]{1,32}$", option.Name);
                Assert.InRange(option.Description.Length, 1, 100);
            }
        }
    }
}
