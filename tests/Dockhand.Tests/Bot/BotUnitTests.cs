using Dockhand.Bot;
using Dockhand.Containers;
using Dockhand.Discord;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Dockhand.Discord.Testing.Contract;
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
    public void OpenApiContract_BrokenCallback_Rejected()
    {
        const string callback = "/interactions/{interaction_id}/{interaction_token}/callback";
        Assert.Empty(OpenApiContract.Validate(callback, "post", """{"type":4,"data":{"content":"hi","flags":64}}"""));
        Assert.NotEmpty(OpenApiContract.Validate(callback, "post", """{"type":4,"data":{"content":12}}"""));
        Assert.NotEmpty(OpenApiContract.Validate("/webhooks/{webhook_id}/{webhook_token}/messages/@original", "patch", """{"embeds":[{"title":7}]}"""));
        Assert.Throws<OpenApiContractException>(() => OpenApiContract.AssertValid(callback, "post", """{"type":4,"data":{"content":12}}"""));
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

    [Fact]
    public async Task PullProgressEditor_CloseToTokenExpiry_StopsEditing()
    {
        var time = new FakeTimeProvider();
        var edits = 0;
        var editor = new PullProgressEditor((_, _) =>
        {
            Interlocked.Increment(ref edits);
            return Task.CompletedTask;
        }, time, TimeSpan.FromSeconds(1), NullLogger.Instance, 1, Ct, stopAt: time.GetUtcNow() + TimeSpan.FromSeconds(10));

        editor.Report(new PullProgress("a", "one", null, null));
        time.Advance(TimeSpan.FromSeconds(10));
        editor.Report(new PullProgress("a", "two", null, null));
        await editor.DrainAsync();

        Assert.Equal(1, edits);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BotReplies_TokenExpired_PostsTheResultToTheChannelWithTheBotTokenOrAuditsThatItCouldNot(bool withBotToken)
    {
        // Receiving and Responding: an interaction token works for 15 minutes; a result after that needs another way.
        await using var rest = await Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.StartAsync(cancellationToken: Ct);
        var directory = Directory.CreateTempSubdirectory("dockhand-replies-").FullName;
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDockhandDiscord(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DISCORD_TOKEN"] = withBotToken ? rest.Token : null,
            ["DISCORD_PUBLIC_KEY"] = withBotToken ? null : new string('a', 64),
            ["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri,
        }).Build());
        services.AddDockhandContainers(new ContainerOptions { DatabasePath = Path.Combine(directory, "containers.db") });
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<ContainerStore>();
        await store.MigrateAsync(Ct);
        var client = provider.GetRequiredService<Dockhand.Discord.Rest.DiscordRestClient>();
        var replies = new BotReplies(TimeProvider.System, client, store, NullLogger<BotReplies>.Instance);
        var interaction = new Dockhand.Discord.Interactions.Interaction
        {
            Id = Dockhand.Discord.Interactions.Interaction.SnowflakeAt(DateTimeOffset.UtcNow.AddMinutes(-16)),
            ApplicationId = rest.ApplicationId,
            Type = Dockhand.Discord.Interactions.InteractionType.ApplicationCommand,
            Token = "expired-token",
            User = new Dockhand.Discord.Interactions.DiscordUser(77, "alice", null),
            ChannelId = 555,
            CommandName = "create",
        };

        await replies.EditAsync(interaction, new ExpiredResponder(interaction.Id), "Created `dev`.", Ct);

        var audited = Assert.Single(await store.ReadAuditAsync(cancellationToken: Ct));
        if (withBotToken)
        {
            var posted = Assert.Single(rest.GetChannelMessages(555));
            Assert.StartsWith("<@77>", posted["content"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.EndsWith("Created `dev`.", posted["content"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("Bot " + rest.Token, rest.RequestsTo(Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes.ChannelMessage)[0].Headers["Authorization"]);
            Assert.Equal(("create", "reply-posted-to-channel"), (audited.Action, audited.Outcome));
        }
        else
        {
            Assert.Empty(rest.GetChannelMessages(555));
            Assert.Equal(("create", "reply-undeliverable", "discord:77"), (audited.Action, audited.Outcome, audited.Actor));
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>A responder whose token has expired, as the library's responders report it.</summary>
    private sealed class ExpiredResponder(ulong interactionId) : Dockhand.Discord.Interactions.IInteractionResponder
    {
        public bool HasResponded => true;
        public Task RespondAsync(Dockhand.Discord.Interactions.InteractionResponse response, CancellationToken cancellationToken = default) => throw new InvalidOperationException();
        public Task<Dockhand.Discord.Interactions.SentMessage> EditOriginalAsync(Dockhand.Discord.Interactions.DiscordMessage message, CancellationToken cancellationToken = default) =>
            throw new Dockhand.Discord.Interactions.InteractionTokenExpiredException(interactionId);
        public Task<Dockhand.Discord.Interactions.SentMessage> GetOriginalAsync(CancellationToken cancellationToken = default) => throw new InvalidOperationException();
        public Task DeleteOriginalAsync(CancellationToken cancellationToken = default) => throw new InvalidOperationException();
        public Task<Dockhand.Discord.Interactions.SentMessage> FollowUpAsync(Dockhand.Discord.Interactions.DiscordMessage message, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException();
    }

    [Fact]
    public void StatusEmbed_SwarmPlacement_ShowsTheNodeAndSaysWhenItIsDown()
    {
        var record = new ContainerRecord(Harness.NewOwner(), "box", "svc123", EngineFixture.TestImage, DateTimeOffset.UnixEpoch);
        var status = new ContainerStatus(record, LiveState.Running, null, null, null, null);

        var ready = BotMessages.StatusEmbed("Status", status with { Placement = new TaskPlacement("worker-1", "ready", "running", null) });
        var down = BotMessages.StatusEmbed("Status", status with { Placement = new TaskPlacement("worker-1", "down", "pending", "no suitable node") });
        var plain = BotMessages.StatusEmbed("Status", status);

        Assert.Equal("`worker-1`", Assert.Single(ready.Fields!, f => f.Name == "Node").Value);
        Assert.Equal("`worker-1` (down)", Assert.Single(down.Fields!, f => f.Name == "Node").Value);
        Assert.DoesNotContain(plain.Fields!, f => f.Name == "Node");
    }
}
