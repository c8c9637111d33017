using System.Globalization;
using System.Text.Json.Nodes;
using Dockhand.Discord.Commands;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Dockhand.Discord.Testing.Contract;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Rest;
using Dockhand.Discord.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Tests.Commands;

public sealed class CommandRegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A registrar as a process of its own would have it (its own application-id source), on the fixture's Discord.</summary>
    private static CommandRegistrar Registrar(RestFixture f, ulong? guildId = null, ulong? appId = null) =>
        new(f.Client, new DiscordApplicationIdSource(f.Client, Options.Create(new DiscordOptions { ApplicationId = appId })),
            Options.Create(new DiscordOptions { GuildId = guildId }), NullLogger<CommandRegistrar>.Instance);

    private static IReadOnlyList<RecordedRequest> CommandRequests(LoopbackDiscordRestServer server) =>
        [.. server.Requests.Where(r => r.Route is LoopbackDiscordRestServer.Routes.GetGlobalCommands or LoopbackDiscordRestServer.Routes.GlobalCommands
            or LoopbackDiscordRestServer.Routes.GetGuildCommands or LoopbackDiscordRestServer.Routes.GuildCommands)];

    [Fact]
    public async Task RegisterAsync_FirstStart_AsksDiscordThenUploadsOnce()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);

        var outcome = await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);

        Assert.Equal(CommandRegistrationOutcome.Uploaded, outcome);
        var requests = CommandRequests(f.Server);
        Assert.Equal(["GET", "PUT"], requests.Select(r => r.Method));
        // The full localization dictionaries, so that a localization set elsewhere counts as a difference.
        Assert.EndsWith("/commands?with_localizations=true", requests[0].Path, StringComparison.Ordinal);
        Assert.Equal(["create", "destroy", "status", "list", "admin"], f.Server.GetCommands()!.Select(c => c!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task RegisterAsync_SecondStartWithSameDefinitions_MakesNoPut()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);

        var first = await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);
        var second = await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct); // a new process: nothing remembered

        Assert.Equal(CommandRegistrationOutcome.Uploaded, first);
        Assert.Equal(CommandRegistrationOutcome.Unchanged, second);
        Assert.Equal(1, f.Server.CommandOverwriteCount);
        Assert.Equal(["GET", "PUT", "GET"], CommandRequests(f.Server).Select(r => r.Method));
        // The application id came from GET /oauth2/applications/@me (once per start) since none was configured.
        Assert.Equal(2, f.Server.RequestsTo(LoopbackDiscordRestServer.Routes.CurrentApplication).Count);
    }

    [Fact]
    public async Task RegisterAsync_DefinitionsChanged_UploadsOnceThenNot()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);
        var changed = ContractTests.SampleCommands().ToList();
        changed[1] = new SlashCommand("destroy", "Destroy your container", CommandOption.Boolean("force", "Skip the question")); // one option's text
        changed.Add(new SlashCommand("terminal", "Open a web terminal"));

        await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);
        var outcome = await Registrar(f).RegisterAsync(changed, Ct);
        var again = await Registrar(f).RegisterAsync(changed, Ct);

        Assert.Equal(CommandRegistrationOutcome.Uploaded, outcome);
        Assert.Equal(CommandRegistrationOutcome.Unchanged, again);
        Assert.Equal(2, f.Server.CommandOverwriteCount);
        Assert.Equal(6, f.Server.GetCommands()!.Count);
        Assert.Equal("Skip the question", f.Server.GetCommands()![1]!["options"]![0]!["description"]!.GetValue<string>());
    }

    /// <summary>What Discord holds was changed behind this process's back (another copy of the bot, the developer portal).</summary>
    public static TheoryData<string> ChangesOnDiscord() =>
        ["extra user command", "missing command", "localized name", "options reordered", "nsfw", "contexts", "choice value", "max_length"];

    [Theory]
    [MemberData(nameof(ChangesOnDiscord))]
    public async Task RegisterAsync_DiscordHoldsSomethingElse_UploadsOurs(string change)
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);
        await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);
        var held = f.Server.GetCommands()!;
        var list = held.Single(c => c!["name"]!.GetValue<string>() == "list")!.AsObject();
        var create = held.Single(c => c!["name"]!.GetValue<string>() == "create")!.AsObject();
        switch (change)
        {
            case "extra user command": held.Add(new JsonObject { ["type"] = 2, ["name"] = "Profile", ["description"] = "" }); break;
            case "missing command": held.Remove(list); break;
            case "localized name": create["name_localizations"] = new JsonObject { ["de"] = "erstellen" }; break;
            case "options reordered":
                var options = create["options"]!.AsArray();
                var firstOption = options[0]!;
                options.RemoveAt(0);
                options.Add(firstOption);
                break;
            case "nsfw": create["nsfw"] = true; break;
            case "contexts": list["contexts"] = new JsonArray(0, 1); break;
            case "choice value": list["options"]![1]!["choices"]![0]!["value"] = "newest"; break;
            case "max_length": create["options"]![0]!["max_length"] = 64; break;
        }
        f.Server.SetCommands(null, held);

        var outcome = await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);

        Assert.Equal(CommandRegistrationOutcome.Uploaded, outcome);
        Assert.Equal(2, f.Server.CommandOverwriteCount);
        Assert.Equal(CommandRegistrationOutcome.Unchanged, await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct));
    }

    [Fact]
    public async Task RegisterAsync_DiscordHoldsTheSameInAnotherOrderWithItsDefaultsSpelledOut_MakesNoPut()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);
        await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);
        var held = f.Server.GetCommands()!;
        var reordered = new JsonArray([.. held.Reverse().Select(c => c!.DeepClone())]);
        foreach (var command in reordered.Select(c => c!.AsObject()))
        {
            command["type"] = 1;
            command["nsfw"] = false;
            command["integration_types"] = new JsonArray(0, 1); // the app's defaults, which we never set
            foreach (var option in command["options"]?.AsArray().Select(o => o!.AsObject()) ?? [])
            {
                option["required"] ??= false;
                if (option["type"]!.GetValue<int>() == 3)
                    option["autocomplete"] ??= false;
                option["description_localizations"] = new JsonObject(); // empty: no localization
            }
        }
        // Integer limits as Discord may write them.
        reordered.Single(c => c!["name"]!.GetValue<string>() == "list")!["options"]![0]!["min_value"] = 1.0;
        f.Server.SetCommands(null, reordered);

        var outcome = await Registrar(f).RegisterAsync(ContractTests.SampleCommands(), Ct);

        Assert.Equal(CommandRegistrationOutcome.Unchanged, outcome);
        Assert.Equal(1, f.Server.CommandOverwriteCount);
    }

    [Fact]
    public async Task RegisterAsync_GuildScope_ComparedAndUploadedSeparatelyFromGlobal()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);

        await Registrar(f, null, f.Server.ApplicationId).RegisterAsync(ContractTests.SampleCommands(), Ct);
        var guild = await Registrar(f, 4242, f.Server.ApplicationId).RegisterAsync(ContractTests.SampleCommands(), Ct);
        var guildAgain = await Registrar(f, 4242, f.Server.ApplicationId).RegisterAsync(ContractTests.SampleCommands(), Ct);

        Assert.Equal(CommandRegistrationOutcome.Uploaded, guild);
        Assert.Equal(CommandRegistrationOutcome.Unchanged, guildAgain);
        Assert.Equal(2, f.Server.CommandOverwriteCount);
        Assert.Equal(2, f.Server.RequestsTo(LoopbackDiscordRestServer.Routes.GetGuildCommands).Count);
        // contexts is only for global commands (the server refuses it on a guild's).
        Assert.Contains(f.Server.GetCommands()!, c => c!["contexts"] is not null);
        Assert.All(f.Server.GetCommands(4242)!, c => Assert.Null(c!["contexts"]));
    }

    [Fact]
    public async Task RegisterAsync_InvalidDefinitions_ThrowsBeforeAnyRequest()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);

        await Assert.ThrowsAsync<CommandDefinitionException>(() => Registrar(f).RegisterAsync([new SlashCommand("Create", "x")], Ct));
        Assert.Empty(f.Server.Requests);
    }

    [Fact]
    public async Task GetCommandsAsync_LoopbackAnswer_HasDiscordsFieldsAndMatchesTheSpec()
    {
        await using var f = await RestFixture.StartAsync(cancellationToken: Ct);
        var app = f.Server.ApplicationId;

        Assert.Empty(await f.Client.GetCommandsAsync(app, null, Ct)); // nothing stored yet: an empty list
        await f.Client.BulkOverwriteCommandsAsync(app, null, ContractTests.SampleCommands(), Ct);
        await f.Client.BulkOverwriteCommandsAsync(app, 4242, ContractTests.SampleCommands(), Ct);
        var global = await f.Client.GetCommandsAsync(app, null, Ct);
        var guild = await f.Client.GetCommandsAsync(app, 4242, Ct);

        foreach (var (path, answer) in new[] { ("/applications/{application_id}/commands", global), ("/applications/{application_id}/guilds/{guild_id}/commands", guild) })
        {
            var errors = OpenApiContract.ValidateResponse(path, "get", answer.ToJsonString());
            Assert.True(errors.Count == 0, $"GET {path} answered {answer.ToJsonString()}, which the spec does not allow: {string.Join("\n", errors)}");
        }
        var list = global.Single(c => c!["name"]!.GetValue<string>() == "list")!;
        Assert.Equal(app.ToString(CultureInfo.InvariantCulture), list["application_id"]!.GetValue<string>());
        Assert.NotNull(list["id"]);
        Assert.NotNull(list["version"]);
        Assert.Equal("0", list["default_member_permissions"]!.GetValue<string>()); // sent as the integer 0
        Assert.Equal(1, list["type"]!.GetValue<int>());
        Assert.True(list.AsObject().ContainsKey("name_localizations"));
        Assert.All(guild, c => Assert.Equal("4242", c!["guild_id"]!.GetValue<string>()));
        // Without with_localizations Discord leaves the dictionaries out.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, f.Server.ApiBaseUrl + $"/applications/{app}/commands");
        request.Headers.TryAddWithoutValidation("Authorization", "Bot " + f.Server.Token);
        request.Headers.TryAddWithoutValidation("User-Agent", DiscordRestClient.UserAgent);
        using var response = await http.SendAsync(request, Ct);
        var plain = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsArray();
        Assert.All(plain, c => Assert.False(c!.AsObject().ContainsKey("name_localizations")));
    }

    [Fact]
    public void ValidateResponse_CommandWithoutRequiredFields_ReportsErrors() =>
        // Guards the check above: a response schema that accepted anything would make it worthless.
        Assert.NotEmpty(OpenApiContract.ValidateResponse("/applications/{application_id}/commands", "get", """[{"name":"x","description":"d"}]"""));

    [Fact]
    public async Task AddDockhandDiscordCommands_HostStarts_UploadsInTheBackground()
    {
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask,
            configure: s => s.AddDockhandDiscordCommands(ContractTests.SampleCommands()), cancellationToken: Ct);

        await Eventually.TrueAsync(() => host.Rest.CommandOverwriteCount > 0, "the background command upload", Ct);

        Assert.Equal(1, host.Rest.CommandOverwriteCount);
        Assert.Equal(["create", "destroy", "status", "list", "admin"], host.Rest.GetCommands()!.Select(c => c!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AddDockhandDiscordCommands_WithLeadership_AsksDiscordOnlyOnceItsTurnHasCome()
    {
        var leadership = new ScriptedLeadership();
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask,
            configure: s => s.AddSingleton<IGatewayLeadership>(leadership).AddDockhandDiscordCommands(ContractTests.SampleCommands()), cancellationToken: Ct);

        await leadership.Asked.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Empty(CommandRequests(host.Rest)); // the registration waits for the turn before anything else
        leadership.Grant();
        await Eventually.TrueAsync(() => host.Rest.CommandOverwriteCount > 0, "the upload once the turn came", Ct);

        Assert.Equal(["GET", "PUT"], CommandRequests(host.Rest).Select(r => r.Method));
    }

    /// <summary>A turn that comes when the test says so.</summary>
    private sealed class ScriptedLeadership : IGatewayLeadership
    {
        private readonly TaskCompletionSource<CancellationToken> _turn = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Grant() => _turn.TrySetResult(CancellationToken.None);

        public Task<CancellationToken> WaitForTurnAsync(CancellationToken cancellationToken = default)
        {
            Asked.TrySetResult();
            return _turn.Task.WaitAsync(cancellationToken);
        }
    }

    [Fact]
    public void AddDockhandDiscordCommands_InvalidDefinitions_FailsAtRegistration() =>
        Assert.Throws<CommandDefinitionException>(() =>
            new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddDockhandDiscordCommands([new SlashCommand("Bad", "x")]));

    [Fact]
    public void Validate_SampleCommands_Valid() => Assert.Empty(CommandValidator.Validate(ContractTests.SampleCommands()));

    [Theory]
    [InlineData("UPPER", "ok", "name")]
    [InlineData("", "ok", "name")]
    [InlineData("has space", "ok", "name")]
    [InlineData("abcdefghijklmnopqrstuvwxyz1234567", "ok", "name")]
    [InlineData("ok", "", "description")]
    public void Validate_BadNameOrDescription_Reported(string name, string description, string expected)
    {
        var problems = CommandValidator.Validate([new SlashCommand(name, description)]);
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_DescriptionOver100_Reported() =>
        Assert.NotEmpty(CommandValidator.Validate([new SlashCommand("ok", new string('d', 101))]));

    [Fact]
    public void Validate_RequiredAfterOptional_Reported()
    {
        var problems = CommandValidator.Validate([new SlashCommand("create", "Create", CommandOption.String("image", "Image"), CommandOption.String("name", "Name", required: true))]);
        Assert.Contains(problems, p => p.Contains("required options must come before", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_AutocompleteWithChoices_Reported()
    {
        var option = CommandOption.String("image", "Image") with { Autocomplete = true, Choices = [CommandChoice.String("a", "a")] };
        Assert.Contains(CommandValidator.Validate([new SlashCommand("create", "Create", option)]), p => p.Contains("autocomplete", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ChoiceOfWrongTypeAndDuplicates_Reported()
    {
        var option = new CommandOption("n", "N", CommandOptionType.Integer) { Choices = [CommandChoice.String("a", "a")] };
        var problems = CommandValidator.Validate([new SlashCommand("x", "X", option), new SlashCommand("x", "X")]);
        Assert.Contains(problems, p => p.Contains("wrong type", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("used twice", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BooleanWithAutocomplete_Reported() =>
        Assert.NotEmpty(CommandValidator.Validate([new SlashCommand("x", "X", CommandOption.Boolean("b", "B") with { Autocomplete = true })]));
}
