using System.Globalization;
using Dockhand.Containers;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Tests.Bot;

/// <summary>/destroy asks first; only the invoker may confirm, and only before the buttons expire.</summary>
[Collection(BotCollection.Name)]
public sealed class DestroyConfirmationTests(BotFixture fixture)
{
    private BotHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<ulong> OwnerWithContainerAsync()
    {
        var owner = BotHost.NewUser();
        var result = await Host.App.Services.GetRequiredService<ContainerService>()
            .CreateAsync(new CreateRequest(new OwnerId(owner), "d" + owner, null, Actor.Cli("test")), cancellationToken: Ct);
        Assert.IsType<CreateResult.Created>(result);
        return owner;
    }

    private async Task<(SentInteraction Ask, string Yes, string No)> AskAsync(ulong invoker, ulong owner, bool purge = false)
    {
        var sent = await Host.SendAsync(purge
            ? Host.Slash(invoker, "destroy", BotHost.UserOption(owner), BotHost.BooleanOption("purge", true))
            : Host.Slash(invoker, "destroy", BotHost.UserOption(owner)), Ct);
        var callback = await Host.WaitForCallbackAsync(sent, Ct);
        Assert.Equal(4, callback["type"]!.GetValue<int>());
        Assert.Contains($"Destroy `d{owner}` (<@{owner}>)? " + (purge
            ? "The container AND their home volume will be deleted: every file in it will be gone for good."
            : "Their files in `/root` are kept, and /create brings them back."), callback["data"]!["content"]!.GetValue<string>(), StringComparison.Ordinal);
        var buttons = callback["data"]!["components"]!.AsArray().Single()!["components"]!.AsArray();
        Assert.Equal(["Destroy", "Cancel"], buttons.Select(b => b!["label"]!.GetValue<string>()));
        Assert.Equal(4, buttons[0]!["style"]!.GetValue<int>());
        Host.AssertSentBodiesMatchOpenApi(sent);
        return (sent, buttons[0]!["custom_id"]!.GetValue<string>(), buttons[1]!["custom_id"]!.GetValue<string>());
    }

    private Task<IList<Docker.DotNet.Models.ContainerListResponse>> ContainersOf(ulong owner) =>
        Host.ContainersAsync(owner.ToString(CultureInfo.InvariantCulture), Ct);

    [Fact]
    public async Task Destroy_ConfirmedByInvoker_EditsConfirmationInPlaceWithResult()
    {
        var owner = await OwnerWithContainerAsync();
        var (ask, yes, _) = await AskAsync(BotHost.Admin, owner);
        var confirmationId = Host.Rest.GetOriginal(ask.Token)!["id"]!.GetValue<string>();
        Assert.Single(await ContainersOf(owner));

        var press = await Host.SendAsync(Host.Button(BotHost.Admin, yes, on: ask), Ct);

        var update = await Host.WaitForCallbackAsync(press, Ct);
        Assert.Equal(7, update["type"]!.GetValue<int>());
        Assert.Empty(update["data"]!["components"]!.AsArray());
        var result = await Host.WaitForOriginalAsync(ask, m => BotHost.Content(m).StartsWith("Destroyed", StringComparison.Ordinal), Ct);
        Assert.Equal($"Destroyed `d{owner}` (<@{owner}>). Their files are kept in their home volume; /create brings them back.", BotHost.Content(result));
        Assert.Equal(confirmationId, result["id"]!.GetValue<string>());
        Assert.Empty(result["components"]!.AsArray());
        Assert.Empty(Host.Rest.GetFollowUps(press.Token));
        Assert.Empty(await ContainersOf(owner));
        Assert.Null(await Host.App.Services.GetRequiredService<ContainerService>().FindAsync(new OwnerId(owner), Ct));
        Host.AssertSentBodiesMatchOpenApi(press);
    }

    [Fact]
    public async Task Destroy_WithPurgeConfirmed_DeletesTheHomeVolumeAndSaysSo()
    {
        var owner = await OwnerWithContainerAsync();
        var (ask, yes, _) = await AskAsync(BotHost.Admin, owner, purge: true);

        await Host.SendAsync(Host.Button(BotHost.Admin, yes, on: ask), Ct);

        var result = await Host.WaitForOriginalAsync(ask, m => BotHost.Content(m).StartsWith("Destroyed", StringComparison.Ordinal), Ct);
        Assert.Equal($"Destroyed `d{owner}` (<@{owner}>). Their home volume and its files were deleted.", BotHost.Content(result));
        Assert.Empty(await Host.App.Services.GetRequiredService<ContainerService>().ListHomesAsync(new OwnerId(owner), Ct));
    }

    [Fact]
    public async Task Destroy_PressedBySomeoneElse_RefusedAndNothingDestroyed()
    {
        var owner = await OwnerWithContainerAsync();
        var (_, yes, _) = await AskAsync(BotHost.Admin, owner);

        foreach (var presser in new[] { BotHost.Admin2, owner, BotHost.NewUser() })
        {
            var press = await Host.SendAsync(Host.Button(presser, yes), Ct);
            var callback = await Host.WaitForCallbackAsync(press, Ct);
            Assert.Equal(4, callback["type"]!.GetValue<int>());
            Assert.Equal(64, callback["data"]!["flags"]!.GetValue<int>());
            Assert.Equal($"Only <@{BotHost.Admin}>, who ran this /destroy, can answer it.", callback["data"]!["content"]!.GetValue<string>());
        }
        Assert.Single(await ContainersOf(owner));
    }

    [Fact]
    public async Task Destroy_Cancelled_UpdatesMessageAndKeepsContainer()
    {
        var owner = await OwnerWithContainerAsync();
        var (ask, _, no) = await AskAsync(BotHost.Admin2, owner);

        var press = await Host.SendAsync(Host.Button(BotHost.Admin2, no, on: ask), Ct);

        var update = await Host.WaitForCallbackAsync(press, Ct);
        Assert.Equal(7, update["type"]!.GetValue<int>());
        Assert.Equal($"Cancelled: <@{owner}>'s container was not destroyed.", update["data"]!["content"]!.GetValue<string>());
        var edited = Host.Rest.GetOriginal(ask.Token)!;
        Assert.Equal($"Cancelled: <@{owner}>'s container was not destroyed.", BotHost.Content(edited));
        Assert.Empty(edited["components"]!.AsArray());
        Assert.Single(await ContainersOf(owner));
        Host.AssertSentBodiesMatchOpenApi(press);
    }

    [Fact]
    public async Task Destroy_ExpiredConfirmation_NothingDestroyed()
    {
        var owner = await OwnerWithContainerAsync();
        var (_, yes, _) = await AskAsync(BotHost.Admin, owner);
        var parts = yes.Split(':');
        parts[^1] = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        var press = await Host.SendAsync(Host.Button(BotHost.Admin, string.Join(':', parts)), Ct);

        var update = await Host.WaitForCallbackAsync(press, Ct);
        Assert.Equal(7, update["type"]!.GetValue<int>());
        Assert.Equal("This confirmation has expired and nothing was destroyed; run /destroy again.", update["data"]!["content"]!.GetValue<string>());
        Assert.Single(await ContainersOf(owner));
    }

    [Fact]
    public async Task Destroy_ContainerRecreatedAfterConfirmationShown_RefusesAndKeepsTheNewOne()
    {
        var owner = await OwnerWithContainerAsync();
        var (ask, yes, _) = await AskAsync(BotHost.Admin, owner);
        var service = Host.App.Services.GetRequiredService<ContainerService>();
        var first = (await service.FindAsync(new OwnerId(owner), Ct))!;
        Assert.Contains($":{first.ContainerId[..12]}:", yes, StringComparison.Ordinal);
        // Between showing the buttons and the click, the container is destroyed and a new one created for the same user.
        Assert.IsType<DestroyResult.Destroyed>(await service.DestroyAsync(new OwnerId(owner), Actor.Cli("test"), cancellationToken: Ct));
        Assert.IsType<CreateResult.Created>(await service.CreateAsync(new CreateRequest(new OwnerId(owner), "d" + owner, null, Actor.Cli("test")), cancellationToken: Ct));
        var second = (await service.FindAsync(new OwnerId(owner), Ct))!;

        var press = await Host.SendAsync(Host.Button(BotHost.Admin, yes, on: ask), Ct);

        var update = await Host.WaitForCallbackAsync(press, Ct);
        Assert.Equal(7, update["type"]!.GetValue<int>());
        Assert.Equal("That confirmation is out of date: the container changed since. Nothing was destroyed; run /destroy again.",
            update["data"]!["content"]!.GetValue<string>());
        Assert.Empty(update["data"]!["components"]!.AsArray());
        Assert.Equal(second.ContainerId, Assert.Single(await ContainersOf(owner)).ID);
        Assert.Equal(second, await service.FindAsync(new OwnerId(owner), Ct));
        Host.AssertSentBodiesMatchOpenApi(press);
    }

    [Fact]
    public async Task Destroy_FromOwnerOrStranger_RefusedEphemerally()
    {
        var owner = await OwnerWithContainerAsync();
        foreach (var user in new[] { owner, BotHost.NewUser() })
        {
            var sent = await Host.SendAsync(Host.Slash(user, "destroy", BotHost.UserOption(owner)), Ct);
            var callback = await Host.WaitForCallbackAsync(sent, Ct);
            Assert.Equal(64, callback["data"]!["flags"]!.GetValue<int>());
            Assert.StartsWith("Only the people on Dockhand's allowlist can use /destroy.", callback["data"]!["content"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        Assert.Single(await ContainersOf(owner));
    }

    [Fact]
    public async Task Destroy_UserWithoutContainer_SaysNothingToDestroy()
    {
        var nobody = BotHost.NewUser();
        var sent = await Host.SendAsync(Host.Slash(BotHost.Admin, "destroy", BotHost.UserOption(nobody)), Ct);

        var callback = await Host.WaitForCallbackAsync(sent, Ct);

        Assert.Equal($"<@{nobody}> has no container, so there is nothing to destroy.", callback["data"]!["content"]!.GetValue<string>());
    }
}
