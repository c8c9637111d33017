using System.Globalization;
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

        var sent = await Task.WhenAll(users.Select(u =>
            Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(u), BotHost.StringOption("container_name", "many-" + u)), Ct)));
        var edits = await Task.WhenAll(sent.Select(s => Host.WaitForEditAsync(s, Ct)));

        for (var i = 0; i < users.Count; i++)
            Assert.StartsWith($"Created `many-{users[i]}`", BotHost.Content(edits[i]), StringComparison.Ordinal);
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
