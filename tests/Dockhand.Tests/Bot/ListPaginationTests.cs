using Dockhand.Containers;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Tests.Bot;

/// <summary>/list with 60 containers: six pages of ten, walked with the buttons. Its own host, so the count is exact.</summary>
public sealed class ListPaginationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task List_SixtyContainers_SixPagesWalkedWithButtons()
    {
        await using var host = await BotHost.StartAsync(cancellationToken: Ct);
        var service = host.App.Services.GetRequiredService<ContainerService>();
        var owners = Enumerable.Range(0, 60).Select(_ => BotHost.NewUser()).ToList();
        await Parallel.ForEachAsync(owners, new ParallelOptions { MaxDegreeOfParallelism = 6, CancellationToken = Ct }, async (owner, ct) =>
            Assert.IsType<CreateResult.Created>(await service.CreateAsync(new CreateRequest(new OwnerId(owner), "p" + owner, null, Actor.Cli("test")), cancellationToken: ct)));

        var sent = await host.SendAsync(host.Slash(BotHost.Admin, "list"), Ct);
        var page = await host.WaitForEditAsync(sent, Ct);
        var seen = new HashSet<string>();
        for (var number = 1; ; number++)
        {
            var embed = page["embeds"]!.AsArray().Single()!.AsObject();
            Assert.Equal("Containers (60)", embed["title"]!.GetValue<string>());
            Assert.Equal($"Page {number} of 6", embed["footer"]!["text"]!.GetValue<string>());
            var lines = embed["description"]!.GetValue<string>().Split('\n');
            Assert.Equal(10, lines.Length);
            foreach (var line in lines)
                Assert.True(seen.Add(line.Split(' ')[0]), "a container appeared on two pages: " + line);
            var buttons = page["components"]!.AsArray().Single()!["components"]!.AsArray();
            Assert.Equal(number == 1, buttons[0]!["disabled"]?.GetValue<bool>() ?? false);
            Assert.Equal(number == 6, buttons[1]!["disabled"]?.GetValue<bool>() ?? false);
            if (number == 6)
                break;
            var press = await host.SendAsync(host.Button(BotHost.Admin, buttons[1]!["custom_id"]!.GetValue<string>()), Ct);
            var update = await host.WaitForCallbackAsync(press, Ct);
            Assert.Equal(7, update["type"]!.GetValue<int>());
            page = update["data"]!.AsObject();
            host.AssertSentBodiesMatchOpenApi(press);
        }
        Assert.Equal(60, seen.Count);
        Assert.Equal(owners.Select(o => "`p" + o + "`").Order(), seen.Order());
        host.AssertSentBodiesMatchOpenApi(sent);
    }
}
