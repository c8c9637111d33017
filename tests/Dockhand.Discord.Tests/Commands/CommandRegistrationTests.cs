using Dockhand.Discord.Commands;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Dockhand.Discord.Tests.Rest;
using Dockhand.Discord.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Tests.Commands;

public sealed class CommandRegistrationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dockhand-commands-" + Guid.NewGuid().ToString("N"));

    // Each registrar stands for a process of its own, with its own store over the same file; the test disposes them.
    private readonly List<FileCommandHashStore> _stores = [];

    public void Dispose()
    {
        foreach (var store in _stores)
            store.Dispose();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private CommandRegistrar Registrar(RestFixture f, ulong? guildId, ulong? appId = null)
    {
        var store = new FileCommandHashStore(Path.Combine(_dir, "containers.db.discord-commands.json"));
        _stores.Add(store);
        return new(f.Client, store,
            new DiscordApplicationIdSource(f.Client, Options.Create(new DiscordOptions { ApplicationId = appId })),
            Options.Create(new DiscordOptions { GuildId = guildId }), NullLogger<CommandRegistrar>.Instance);
    }

    [Fact]
    public async Task RegisterAsync_SameDefinitionsTwice_UploadsOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);

        var first = await Registrar(f, null).RegisterAsync(ContractTests.SampleCommands(), ct);
        var second = await Registrar(f, null).RegisterAsync(ContractTests.SampleCommands(), ct); // a new process, same file

        Assert.Equal(CommandRegistrationOutcome.Uploaded, first);
        Assert.Equal(CommandRegistrationOutcome.Unchanged, second);
        Assert.Equal(1, f.Server.CommandOverwriteCount);
        Assert.Equal(5, f.Server.GetCommands()!.Count);
        // The application id came from GET /oauth2/applications/@me (once per start) since none was configured.
        Assert.Equal(2, f.Server.RequestsTo(Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes.CurrentApplication).Count);
    }

    [Fact]
    public async Task RegisterAsync_DefinitionsChanged_UploadsAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var changed = ContractTests.SampleCommands().Append(new SlashCommand("terminal", "Open a web terminal")).ToList();

        await Registrar(f, null).RegisterAsync(ContractTests.SampleCommands(), ct);
        var outcome = await Registrar(f, null).RegisterAsync(changed, ct);

        Assert.Equal(CommandRegistrationOutcome.Uploaded, outcome);
        Assert.Equal(2, f.Server.CommandOverwriteCount);
        Assert.Equal(6, f.Server.GetCommands()!.Count);
    }

    [Fact]
    public async Task RegisterAsync_GuildScope_UploadsToGuildSeparatelyFromGlobal()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);

        await Registrar(f, null, f.Server.ApplicationId).RegisterAsync(ContractTests.SampleCommands(), ct);
        var guild = await Registrar(f, 4242, f.Server.ApplicationId).RegisterAsync(ContractTests.SampleCommands(), ct);
        var guildAgain = await Registrar(f, 4242, f.Server.ApplicationId).RegisterAsync(ContractTests.SampleCommands(), ct);

        Assert.Equal(CommandRegistrationOutcome.Uploaded, guild);
        Assert.Equal(CommandRegistrationOutcome.Unchanged, guildAgain);
        Assert.NotNull(f.Server.GetCommands(4242));
        Assert.Equal(2, f.Server.CommandOverwriteCount);
        // contexts is only for global commands (the server refuses it on a guild's).
        Assert.Contains(f.Server.GetCommands()!, c => c!["contexts"] is not null);
        Assert.All(f.Server.GetCommands(4242)!, c => Assert.Null(c!["contexts"]));
    }

    [Fact]
    public async Task RegisterAsync_InvalidDefinitions_ThrowsBeforeAnyRequest()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);

        await Assert.ThrowsAsync<CommandDefinitionException>(() => Registrar(f, null).RegisterAsync([new SlashCommand("Create", "x")], ct));
        Assert.Empty(f.Server.Requests);
    }

    [Fact]
    public async Task AddDockhandDiscordCommands_HostStarts_UploadsInTheBackground()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await InteractionsHost.StartAsync((_, _, _) => Task.CompletedTask,
            configure: s => s.AddDockhandDiscordCommands(ContractTests.SampleCommands()), cancellationToken: ct);

        await Eventually.TrueAsync(() => host.Rest.CommandOverwriteCount > 0, "the background command upload", ct);

        Assert.Equal(1, host.Rest.CommandOverwriteCount);
        Assert.Equal(["create", "destroy", "status", "list", "admin"], host.Rest.GetCommands()!.Select(c => c!["name"]!.GetValue<string>()));
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
