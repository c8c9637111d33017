using System.Text.Json.Nodes;
using Dockhand.Containers;
using Dockhand.Containers.Storage;
using Dockhand.Tests.Bot.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Tests.Bot;

/// <summary>Each command from an authorised user, from an owner and from a stranger, over the gateway, against the real engine.</summary>
[Collection(BotCollection.Name)]
public sealed class CommandTests(BotFixture fixture)
{
    private BotHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<ContainerRecord> GiveContainerAsync(ulong user)
    {
        var result = await Host.App.Services.GetRequiredService<ContainerService>()
            .CreateAsync(new CreateRequest(new OwnerId(user), "c" + user, null, Actor.Cli("test")), cancellationToken: Ct);
        return Assert.IsType<CreateResult.Created>(result).Status.Record;
    }

    private static void AssertEphemeralRefusal(JsonObject callback, string expected)
    {
        Assert.Equal(4, callback["type"]!.GetValue<int>());
        Assert.Equal(64, callback["data"]!["flags"]!.GetValue<int>() & 64);
        var content = callback["data"]!["content"]!.GetValue<string>();
        Assert.Contains(expected, content, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", content, StringComparison.Ordinal);
    }

    private static void AssertDeferred(JsonObject callback, bool ephemeral)
    {
        Assert.Equal(5, callback["type"]!.GetValue<int>());
        Assert.Equal(ephemeral ? 64 : 0, (callback["data"]?["flags"]?.GetValue<int>() ?? 0) & 64);
    }

    [Fact]
    public async Task Create_FromAuthorisedUser_DefersPubliclyThenEditsCreatedEmbed()
    {
        var owner = BotHost.NewUser();
        var sent = await Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(owner), BotHost.StringOption("container_name", "web-" + owner)), Ct);

        AssertDeferred(await Host.WaitForCallbackAsync(sent, Ct), ephemeral: false);
        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.Equal(0, BotHost.Flags(edited) & 64);
        Assert.Contains($"Created `web-{owner}` for <@{owner}>", BotHost.Content(edited), StringComparison.Ordinal);
        var embed = edited["embeds"]!.AsArray().Single()!.AsObject();
        Assert.Equal("Container created", embed["title"]!.GetValue<string>());
        Assert.Contains("running", BotHost.Text(edited), StringComparison.Ordinal);
        var containers = await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct);
        Assert.Single(containers);
        Assert.Equal("running", containers[0].State);
        Host.AssertSentBodiesMatchOpenApi(sent);
    }

    [Fact]
    public async Task Create_DeliveredAfterDiscordsThreeSeconds_MakesNoContainerAndNoRecord()
    {
        var owner = BotHost.NewUser();
        var payload = Host.Slash(BotHost.Admin, "create", BotHost.UserOption(owner), BotHost.StringOption("container_name", "late-" + owner));

        // The create's checks run while the deferral is on its way; Discord refuses it (10062), so nothing may be made.
        var sent = await Host.SendAsync(payload, late: TimeSpan.FromSeconds(4), Ct);
        var id = sent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.TrueAsync(() => Host.LogLines.Any(l => l.Contains(id, StringComparison.Ordinal) && l.Contains("was answered after Discord's 3 s", StringComparison.Ordinal)),
            "the dispatcher to give the interaction up as too late", Ct);

        Assert.Empty(await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct));
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Host.DatabasePath}");
        await connection.OpenAsync(Ct);
        await using var rows = connection.CreateCommand();
        rows.CommandText = "SELECT COUNT(*) FROM containers WHERE discord_user_id = $owner";
        rows.Parameters.AddWithValue("$owner", owner.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0L, (long)(await rows.ExecuteScalarAsync(Ct))!);
        Assert.Null(Host.Rest.GetOriginal(sent.Token));
    }

    [Fact]
    public async Task Create_ForUserWithAKeptHome_SaysTheirFilesAreBack()
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        var service = Host.App.Services.GetRequiredService<ContainerService>();
        Assert.Equal(HomeOutcome.Kept, Assert.IsType<DestroyResult.Destroyed>(await service.DestroyAsync(new OwnerId(owner), Actor.Cli("test"), cancellationToken: Ct)).Home);

        var sent = await Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(owner), BotHost.StringOption("container_name", "back-" + owner)), Ct);
        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.Equal($"Created `back-{owner}` for <@{owner}>. They can open a shell in it with /terminal. Their kept home volume is mounted again, with the files from their last container.",
            BotHost.Content(edited));
    }

    [Fact]
    public async Task Create_ForUserWhoHasOne_EditsOneFriendlySentence()
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        var sent = await Host.SendAsync(Host.Slash(BotHost.Admin2, "create", BotHost.UserOption(owner), BotHost.StringOption("container_name", "second-" + owner)), Ct);

        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.Equal($"That user already has a container, 'c{owner}'. Destroy it first, or use the one they have.", BotHost.Content(edited));
        Assert.Single(await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct));
        Host.AssertSentBodiesMatchOpenApi(sent);
    }

    [Fact]
    public async Task Create_WithMissingImage_EditsFriendlySentenceWithoutEngineJson()
    {
        var owner = BotHost.NewUser();
        var sent = await Host.SendAsync(Host.Slash(BotHost.Admin, "create", BotHost.UserOption(owner), BotHost.StringOption("container_name", "x" + owner),
            BotHost.StringOption("image", "dockhand-test/does-not-exist:" + owner)), Ct);

        var edited = await Host.WaitForEditAsync(sent, Ct);

        var content = BotHost.Content(edited);
        Assert.StartsWith($"The image 'dockhand-test/does-not-exist:{owner}' could not be pulled", content, StringComparison.Ordinal);
        Assert.DoesNotContain("{", content, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", content, StringComparison.Ordinal);
        Assert.Empty(await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct));
    }

    [Fact]
    public async Task Create_FromStrangerOrOwner_RefusedEphemerallyNamingWhoCanHelp()
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        foreach (var user in new[] { BotHost.NewUser(), owner })
        {
            var sent = await Host.SendAsync(Host.Slash(user, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", "mine" + user)), Ct);
            AssertEphemeralRefusal(await Host.WaitForCallbackAsync(sent, Ct), $"Only the people on Dockhand's allowlist can use /create. Ask <@{BotHost.Admin}> or <@{BotHost.Admin2}>");
            Host.AssertSentBodiesMatchOpenApi(sent);
        }
        Assert.Single(await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct));
    }

    [Fact]
    public async Task Status_FromAuthorisedUserAndOwner_DefersEphemerallyThenShowsEmbed()
    {
        var owner = BotHost.NewUser();
        var record = await GiveContainerAsync(owner);
        var byAdmin = await Host.SendAsync(Host.Slash(BotHost.Admin, "status", BotHost.UserOption(owner)), Ct);
        var byOwner = await Host.SendAsync(Host.Slash(owner, "status"), Ct);

        foreach (var sent in new[] { byAdmin, byOwner })
        {
            AssertDeferred(await Host.WaitForCallbackAsync(sent, Ct), ephemeral: true);
            var edited = await Host.WaitForEditAsync(sent, Ct);
            Assert.Equal(64, BotHost.Flags(edited) & 64);
            var text = BotHost.Text(edited);
            Assert.Contains("Container status", text, StringComparison.Ordinal);
            Assert.Contains($"`{record.Name}`", text, StringComparison.Ordinal);
            Assert.Contains("State: running", text, StringComparison.Ordinal);
            Assert.Contains($"Owner: <@{owner}>", text, StringComparison.Ordinal);
            Host.AssertSentBodiesMatchOpenApi(sent);
        }
    }

    [Fact]
    public async Task Status_FromStranger_RefusedEphemerally()
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        var stranger = BotHost.NewUser();

        var onOther = await Host.SendAsync(Host.Slash(stranger, "status", BotHost.UserOption(owner)), Ct);
        var onSelf = await Host.SendAsync(Host.Slash(stranger, "status"), Ct);

        AssertEphemeralRefusal(await Host.WaitForCallbackAsync(onOther, Ct), "You can only use /status on your own container; ask <@");
        AssertEphemeralRefusal(await Host.WaitForCallbackAsync(onSelf, Ct), "You don't have a container yet; ask <@");
        Host.AssertSentBodiesMatchOpenApi(onOther, onSelf);
    }

    [Fact]
    public async Task Terminal_FromOwner_RepliesEphemeralOneTimeLinkButton()
    {
        var owner = BotHost.NewUser();
        var record = await GiveContainerAsync(owner);
        var sent = await Host.SendAsync(Host.Slash(owner, "terminal"), Ct);

        AssertDeferred(await Host.WaitForCallbackAsync(sent, Ct), ephemeral: true);
        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.Equal(64, BotHost.Flags(edited) & 64);
        Assert.Contains("works once", BotHost.Content(edited), StringComparison.Ordinal);
        var button = edited["components"]!.AsArray().Single()!["components"]!.AsArray().Single()!.AsObject();
        Assert.Equal(5, button["style"]!.GetValue<int>());
        var url = new Uri(button["url"]!.GetValue<string>());
        Assert.Equal($"https://dockhand.example.test/terminal/{record.ContainerId}", url.GetLeftPart(UriPartial.Path));
        Assert.Matches("^\\?token=[A-Za-z0-9_-]{43}$", url.Query);
        Host.AssertSentBodiesMatchOpenApi(sent);

        // The link works against this same process's web terminal, once: opening it uses nothing up (a link scanner
        // may fetch it); the page's script redeems the token with a same-origin POST.
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false };
        using var browser = new HttpClient(handler) { BaseAddress = Host.BaseAddress };
        using var opened = await browser.GetAsync(new Uri(url.PathAndQuery, UriKind.Relative), Ct);
        Assert.Equal(200, (int)opened.StatusCode);
        Assert.False(opened.Headers.Contains("Set-Cookie"));
        using var firstRedeem = Redeem(url);
        using var first = await browser.SendAsync(firstRedeem, Ct);
        using var againRedeem = Redeem(url);
        using var again = await browser.SendAsync(againRedeem, Ct);
        Assert.Equal(200, (int)first.StatusCode);
        Assert.True(first.Headers.Contains("Set-Cookie"));
        Assert.Equal(410, (int)again.StatusCode);

        // Issuing is logged and audited, and neither holds the token.
        var token = url.Query["?token=".Length..];
        Assert.Contains(Host.LogLines, e => e.Contains("[5000]", StringComparison.Ordinal) && e.Contains(record.ContainerId, StringComparison.Ordinal));
        Assert.DoesNotContain(Host.LogLines, e => e.Contains(token, StringComparison.Ordinal));
        var audit = await Host.App.Services.GetRequiredService<ContainerStore>().ReadAuditAsync(new OwnerId(owner), cancellationToken: Ct);
        var row = Assert.Single(audit, a => a.Action == "terminal-link");
        Assert.Equal(("issued", $"discord:{owner}", record.ContainerId), (row.Outcome, row.Actor, row.ContainerId));
        Assert.DoesNotContain(token, row.Detail ?? "", StringComparison.Ordinal);
    }

    private HttpRequestMessage Redeem(Uri link)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(link.AbsolutePath + "/session", UriKind.Relative))
        {
            Content = new StringContent($"{{\"token\":\"{link.Query["?token=".Length..]}\"}}", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Origin", Host.BaseAddress.GetLeftPart(UriPartial.Authority));
        return request;
    }

    [Fact]
    public async Task Terminal_MoreLinksThanThePerMinuteLimit_RefusesWithWhenToTryAgain()
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        for (var i = 0; i < 5; i++)
        {
            var issued = await Host.SendAsync(Host.Slash(owner, "terminal"), Ct);
            Assert.Contains("works once", BotHost.Content(await Host.WaitForEditAsync(issued, Ct)), StringComparison.Ordinal);
        }

        var sent = await Host.SendAsync(Host.Slash(owner, "terminal"), Ct);
        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.Matches("^You have had 5 terminal links in the last minute, the most allowed; try again in [0-9]{1,2} seconds\\.$", BotHost.Content(edited));
        Assert.Empty(edited["components"]!.AsArray());
        var audit = await Host.App.Services.GetRequiredService<ContainerStore>().ReadAuditAsync(new OwnerId(owner), cancellationToken: Ct);
        Assert.Equal(["refused", "issued", "issued", "issued", "issued", "issued"], audit.Where(a => a.Action == "terminal-link").Select(a => a.Outcome));
    }

    [Fact]
    public async Task Terminal_StoppedContainer_RefusesWithSentenceAndIssuesNoLink()
    {
        var owner = BotHost.NewUser();
        var record = await GiveContainerAsync(owner);
        var stopped = await Host.App.Services.GetRequiredService<ContainerService>().ApplyAsync(new OwnerId(owner), LifecycleAction.Stop, Actor.Cli("test"), Ct);
        Assert.IsType<StatusResult.Found>(stopped);

        var sent = await Host.SendAsync(Host.Slash(owner, "terminal"), Ct);
        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.Equal($"The container '{record.Name}' is exited, not running; start it, then ask for a new link.", BotHost.Content(edited));
        Assert.Empty(edited["components"]!.AsArray());
        var audit = await Host.App.Services.GetRequiredService<ContainerStore>().ReadAuditAsync(new OwnerId(owner), cancellationToken: Ct);
        Assert.Equal("refused", Assert.Single(audit, a => a.Action == "terminal-link").Outcome);
    }

    [Fact]
    public async Task StatusAndTerminal_IdleStoppedContainer_StatusSaysSoAndTerminalStartsItThenLinks()
    {
        var owner = BotHost.NewUser();
        var record = await GiveContainerAsync(owner);
        var containers = Host.App.Services.GetRequiredService<ContainerService>();
        Assert.IsType<StatusResult.Found>(await containers.ApplyAsync(new OwnerId(owner), LifecycleAction.Stop, Actor.Cli("test"), Ct));
        // What an idle stop leaves behind: a stopped container and its audit row (the culler is tested in Dockhand.Containers.Tests).
        await Host.App.Services.GetRequiredService<ContainerStore>().AppendAuditAsync(ContainerService.CullingActor, ContainerService.IdleStopOperation,
            new OwnerId(owner), record.Name, record.ContainerId, "stopped", "after 8h idle (CPU below 5% of one core, no terminal attached)", Ct);

        var status = await Host.SendAsync(Host.Slash(owner, "status"), Ct);
        var statusEdit = await Host.WaitForEditAsync(status, Ct);
        var state = statusEdit["embeds"]!.AsArray().Single()!["fields"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == "State")!;
        Assert.Equal("stopped after 8h idle", state["value"]!.GetValue<string>());

        var sent = await Host.SendAsync(Host.Slash(owner, "terminal"), Ct);
        var edited = await Host.WaitForEditAsync(sent, Ct);

        Assert.StartsWith($"Your container was stopped after 8h idle; it is running again. Your terminal for `{record.Name}` is ready.", BotHost.Content(edited));
        Assert.Single(edited["components"]!.AsArray());
        Assert.Equal(LiveState.Running, Assert.IsType<StatusResult.Found>(await containers.StatusAsync(new OwnerId(owner), Ct)).Status.State);
        var audit = await Host.App.Services.GetRequiredService<ContainerStore>().ReadAuditAsync(new OwnerId(owner), cancellationToken: Ct);
        Assert.Equal(["terminal-link", "start"], audit.Take(2).Select(a => a.Action));
        Host.AssertSentBodiesMatchOpenApi(status, sent);
    }

    [Fact]
    public async Task Terminal_FromStrangerAndAdminWithoutContainer_GetsSentences()
    {
        var stranger = await Host.SendAsync(Host.Slash(BotHost.NewUser(), "terminal"), Ct);
        AssertEphemeralRefusal(await Host.WaitForCallbackAsync(stranger, Ct), "You don't have a container yet; ask <@");

        var admin = await Host.SendAsync(Host.Slash(BotHost.Admin2, "terminal"), Ct);
        var edited = await Host.WaitForEditAsync(admin, Ct);
        Assert.Equal("You don't have a container. An allowlisted user can create one for you with /create.", BotHost.Content(edited));
        Assert.Empty(edited["components"]!.AsArray());
    }

    [Fact]
    public async Task StopStartRestart_FromOwnerAndAdmin_ChangeTheContainerAndReport()
    {
        var owner = BotHost.NewUser();
        var record = await GiveContainerAsync(owner);

        var stop = await Host.SendAsync(Host.Slash(owner, "stop", BotHost.UserOption(owner)), Ct);
        AssertDeferred(await Host.WaitForCallbackAsync(stop, Ct), ephemeral: false);
        var stopped = await Host.WaitForEditAsync(stop, Ct);
        Assert.StartsWith($"Stopped `{record.Name}`", BotHost.Content(stopped), StringComparison.Ordinal);
        Assert.Contains("State: stopped", BotHost.Text(stopped), StringComparison.Ordinal);
        Assert.Equal("exited", (await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct)).Single().State);

        var start = await Host.SendAsync(Host.Slash(BotHost.Admin, "start", BotHost.UserOption(owner)), Ct);
        Assert.StartsWith($"Started `{record.Name}`", BotHost.Content(await Host.WaitForEditAsync(start, Ct)), StringComparison.Ordinal);
        Assert.Equal("running", (await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct)).Single().State);

        var restart = await Host.SendAsync(Host.Slash(owner, "restart", BotHost.UserOption(owner)), Ct);
        Assert.StartsWith($"Restarted `{record.Name}`", BotHost.Content(await Host.WaitForEditAsync(restart, Ct)), StringComparison.Ordinal);
        Host.AssertSentBodiesMatchOpenApi(stop, start, restart);
    }

    [Theory]
    [InlineData("start")]
    [InlineData("stop")]
    [InlineData("restart")]
    public async Task Lifecycle_FromStrangerOnSomeoneElse_RefusedAndContainerUntouched(string command)
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        var id = (await Host.ContainersAsync(owner.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct)).Single().ID;
        var before = (await Host.Docker.Containers.InspectContainerAsync(id, Ct)).State!;

        var sent = await Host.SendAsync(Host.Slash(BotHost.NewUser(), command, BotHost.UserOption(owner)), Ct);

        AssertEphemeralRefusal(await Host.WaitForCallbackAsync(sent, Ct), $"You can only use /{command} on your own container");
        // Untouched: still running, and neither stopped nor (re)started since (a restart keeps "running").
        var after = (await Host.Docker.Containers.InspectContainerAsync(id, Ct)).State!;
        Assert.True(after.Running);
        Assert.Equal(before.StartedAt, after.StartedAt);
        Assert.Equal(before.FinishedAt, after.FinishedAt);
    }

    [Fact]
    public async Task List_FromAuthorisedUser_EphemeralEmbed_FromOwnerAndStrangerRefused()
    {
        var owner = BotHost.NewUser();
        var record = await GiveContainerAsync(owner);

        var byAdmin = await Host.SendAsync(Host.Slash(BotHost.Admin, "list"), Ct);
        AssertDeferred(await Host.WaitForCallbackAsync(byAdmin, Ct), ephemeral: true);
        var edited = await Host.WaitForEditAsync(byAdmin, Ct);
        Assert.Equal(64, BotHost.Flags(edited) & 64);
        Assert.Contains("Containers (", BotHost.Text(edited), StringComparison.Ordinal);

        var footer = System.Text.RegularExpressions.Regex.Match(BotHost.Text(edited), "Page 1 of (\\d+)");
        Assert.True(footer.Success, BotHost.Text(edited));
        var pages = int.Parse(footer.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        // /list runs oldest first and this collection shares one host, so the owner's new container is on the last page.
        var last = edited;
        if (pages > 1)
        {
            var press = await Host.SendAsync(Host.Button(BotHost.Admin, $"dh:list:n:{pages - 1}", on: byAdmin), Ct);
            last = (await Host.WaitForCallbackAsync(press, Ct))["data"]!.AsObject();
        }
        var line = Assert.Single(BotHost.Text(last).Split('\n'), l => l.StartsWith($"`{record.Name}`", StringComparison.Ordinal));
        Assert.Contains($"<@{owner}>", line, StringComparison.Ordinal);
        Assert.Contains($"`{record.Image}`", line, StringComparison.Ordinal);

        var byOwner = await Host.SendAsync(Host.Slash(owner, "list"), Ct);
        var byStranger = await Host.SendAsync(Host.Slash(BotHost.NewUser(), "list"), Ct);
        AssertEphemeralRefusal(await Host.WaitForCallbackAsync(byOwner, Ct), "Only the people on Dockhand's allowlist can use /list.");
        AssertEphemeralRefusal(await Host.WaitForCallbackAsync(byStranger, Ct), "Only the people on Dockhand's allowlist can use /list.");
        Host.AssertSentBodiesMatchOpenApi(byAdmin, byOwner, byStranger);
    }

    [Fact]
    public async Task Autocomplete_Image_SuggestsDefaultAndLocalImages()
    {
        var sent = await Host.SendAsync(Host.Autocomplete(BotHost.Admin, "create", "image", "busybox"), Ct);

        var callback = await Host.WaitForCallbackAsync(sent, Ct);

        Assert.Equal(8, callback["type"]!.GetValue<int>());
        var choices = callback["data"]!["choices"]!.AsArray();
        Assert.InRange(choices.Count, 1, 25);
        Assert.Equal(BotHost.Image, choices[0]!["value"]!.GetValue<string>());
        Host.AssertSentBodiesMatchOpenApi(sent);
    }

    [Fact]
    public async Task Autocomplete_FromUserNotOnAllowlist_GetsNoChoices()
    {
        var owner = BotHost.NewUser();
        await GiveContainerAsync(owner);
        var byStranger = await Host.SendAsync(Host.Autocomplete(BotHost.NewUser(), "create", "image", ""), Ct);
        var byOwner = await Host.SendAsync(Host.Autocomplete(owner, "create", "image", "dockhand-test"), Ct);

        foreach (var sent in new[] { byStranger, byOwner })
        {
            var callback = await Host.WaitForCallbackAsync(sent, Ct);
            Assert.Equal(8, callback["type"]!.GetValue<int>());
            Assert.Empty(callback["data"]!["choices"]!.AsArray());
        }
        Host.AssertSentBodiesMatchOpenApi(byStranger, byOwner);
    }

    [Fact]
    public async Task Startup_RegistersTheCommandsOnceToTheGuild()
    {
        await Host.Gateway!.WaitUntilAsync(_ => Host.Rest.CommandOverwriteCount > 0, BotHost.Timeout, Ct);

        var commands = Host.Rest.GetCommands(BotHost.GuildId)!;
        Assert.Equal(["create", "destroy", "list", "status", "terminal", "start", "stop", "restart"], commands.Select(c => c!["name"]!.GetValue<string>()));
        Assert.Equal(1, Host.Rest.CommandOverwriteCount);
        Host.AssertSentBodiesMatchOpenApi();
    }

    [Fact]
    public async Task Host_OneRuntimeForEngineAndTerminal_HealthReportsBoth()
    {
        var services = Host.App.Services;
        // One way to the engine for the whole host: the runtime; no Docker client in the container for anyone to bypass it.
        Assert.Single(services.GetServices<Dockhand.Containers.IContainerRuntime>());
        Assert.Null(services.GetService<Docker.DotNet.IDockerClient>());

        using var response = await Host.Http.GetAsync(new Uri("/health", UriKind.Relative), Ct);

        var health = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("healthy", health["checks"]!["engine"]!["status"]!.GetValue<string>());
        Assert.Equal("healthy", health["checks"]!["database"]!["status"]!.GetValue<string>());
    }
}
