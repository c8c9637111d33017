using System.Globalization;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Tests.Bot.Support;

namespace Dockhand.Tests.Bot;

/// <summary>Many /create interactions at once, over the gateway.</summary>
[Collection(BotCollection.Name)]
public sealed class ConcurrencyTests(BotFixture fixture)
{
    private BotHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_TwentyUsersAtOnce_EachGetsTheirContainer()
    {
        var users = Enumerable.Range(0, 20).Select(_ => BotHost.NewUser()).ToList();

        var started = DateTimeOffset.UtcNow;
        var sent = await Task.WhenAll(users.Select(u =>
            Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(u), BotHost.StringOption("container_name", "many-" + u)), Ct)));
        var edits = await Task.WhenAll(sent.Select(async s =>
        {
            var edit = await Host.WaitForEditAsync(s, Ct);
            return (Edit: edit, At: DateTimeOffset.UtcNow);
        }));

        // Discord's 3-second rule: every deferral must arrive in time even with 20 creates competing for the engine.
        var defers = sent.Select(s => Host.Rest.Requests.Single(r => r.Route == LoopbackDiscordRestServer.Routes.InteractionCallback && r.Path.Contains(s.Token, StringComparison.Ordinal)).At - started).ToList();
        var done = edits.Select(e => e.At - started).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"20 concurrent /create: deferral max {defers.Max().TotalMilliseconds:0} ms; all replies edited after {done.Max().TotalSeconds:0.0} s");
        Assert.All(defers, d => Assert.True(d < TimeSpan.FromSeconds(3), $"a deferral took {d.TotalMilliseconds:0} ms"));

        for (var i = 0; i < users.Count; i++)
            Assert.StartsWith($"Created `many-{users[i]}`", BotHost.Content(edits[i].Edit), StringComparison.Ordinal);
        foreach (var user in users)
            Assert.Single(await Host.ContainersAsync(user.ToString(CultureInfo.InvariantCulture), Ct));
        Host.AssertSentBodiesMatchOpenApi(sent);
    }

    [Fact]
    public async Task Create_TenAtOnceForOneUser_ExactlyOneContainer()
    {
        var user = BotHost.NewUser();

        var sent = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            Host.SendAsync(Host.Slash(i % 2 == 0 ? BotHost.Admin : BotHost.Admin2, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", $"same-{user}-{i}")), Ct)));
        var edits = await Task.WhenAll(sent.Select(s => Host.WaitForEditAsync(s, Ct)));

        var contents = edits.Select(BotHost.Content).ToList();
        Assert.Single(contents, c => c.StartsWith("Created ", StringComparison.Ordinal));
        Assert.All(contents.Where(c => !c.StartsWith("Created ", StringComparison.Ordinal)), c => Assert.True(
            c.StartsWith("That user already has a container", StringComparison.Ordinal) || c.StartsWith("Another operation on that user's container is in progress", StringComparison.Ordinal), c));
        Assert.Single(await Host.ContainersAsync(user.ToString(CultureInfo.InvariantCulture), Ct));
    }
}
