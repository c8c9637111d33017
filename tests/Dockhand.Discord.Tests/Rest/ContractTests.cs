using Dockhand.Discord.Commands;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Support;
using Routes = Dockhand.Discord.Testing.Rest.LoopbackDiscordRestServer.Routes;

namespace Dockhand.Discord.Tests.Rest;

/// <summary>Every body the client sends is valid against Discord's OpenAPI spec and accepted by the loopback server.</summary>
public sealed class ContractTests
{
    private static readonly Dictionary<string, (string Path, string Method)> SpecOperations = new()
    {
        [Routes.InteractionCallback] = ("/interactions/{interaction_id}/{interaction_token}/callback", "post"),
        [Routes.EditOriginal] = ("/webhooks/{webhook_id}/{webhook_token}/messages/@original", "patch"),
        [Routes.FollowUp] = ("/webhooks/{webhook_id}/{webhook_token}", "post"),
        [Routes.GlobalCommands] = ("/applications/{application_id}/commands", "put"),
        [Routes.GuildCommands] = ("/applications/{application_id}/guilds/{guild_id}/commands", "put"),
    };

    internal static DiscordMessage RichMessage(bool ephemeral) => new()
    {
        Content = "Your container **dev** is running. 🐳",
        Ephemeral = ephemeral,
        Embeds =
        [
            new Embed
            {
                Title = "dev",
                Description = "busybox",
                Color = 0x2ECC71,
                Url = new Uri("https://example.com/c/dev"),
                Timestamp = DateTimeOffset.Parse("2026-11-26T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
                Fields = [new EmbedField("Status", "running", Inline: true), new EmbedField("Image", "busybox:1")],
                Footer = "Dockhand",
            },
        ],
        Components =
        [
            new ActionRow(new LinkButton("Open terminal", new Uri("http://127.0.0.1:5000/terminal/abc?token=x")),
                new ActionButton("Destroy", "destroy:dev", ButtonStyle.Danger),
                new ActionButton("Refresh", "status:refresh") { Disabled = true }),
        ],
    };

    internal static IReadOnlyList<SlashCommand> SampleCommands() =>
    [
        new SlashCommand("create", "Create your container",
            CommandOption.String("name", "Container name", required: true) with { MinLength = 1, MaxLength = 63 },
            CommandOption.String("image", "Image") with { Autocomplete = true }),
        new SlashCommand("destroy", "Destroy your container", CommandOption.Boolean("force", "Skip the confirmation")),
        new SlashCommand("status", "Show a container", CommandOption.User("user", "Whose container (admins)")),
        new SlashCommand("list", "List containers",
            CommandOption.Integer("limit", "How many") with { MinValue = 1, MaxValue = 25 },
            CommandOption.String("sort", "Order") with { Choices = [CommandChoice.String("Newest", "new"), CommandChoice.String("Oldest", "old")] })
        {
            DefaultMemberPermissions = 0,
            Contexts = [0],
        },
        new SlashCommand("admin", "Admin tools",
            CommandOption.Subcommand("purge", "Remove a user's container", CommandOption.User("user", "Whose", required: true)),
            new CommandOption("level", "Pick one", CommandOptionType.Integer) { Choices = [CommandChoice.Integer("One", 1)] }),
    ];

    [Fact]
    public async Task EveryOutgoingBody_AllKinds_ValidAgainstOpenApiAndAcceptedByServer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var f = await RestFixture.StartAsync(cancellationToken: ct);
        var c = f.Client;
        var app = f.Server.ApplicationId;

        await c.CreateInteractionResponseAsync(1, "t1", InteractionResponse.Message(RichMessage(ephemeral: true)), ct);
        await c.CreateInteractionResponseAsync(2, "t2", InteractionResponse.Message("plain"), ct);
        await c.CreateInteractionResponseAsync(3, "t3", InteractionResponse.Deferred(), ct);
        await c.CreateInteractionResponseAsync(4, "t4", InteractionResponse.Deferred(ephemeral: true), ct);
        await c.CreateInteractionResponseAsync(5, "t5", InteractionResponse.DeferredUpdate(), ct);
        await c.CreateInteractionResponseAsync(6, "t6", InteractionResponse.Update(RichMessage(ephemeral: false)), ct);
        await c.CreateInteractionResponseAsync(7, "t7", InteractionResponse.Autocomplete(
            Enumerable.Range(0, 30).Select(i => AutocompleteChoice.String("image " + i, "img" + i))), ct);
        await c.CreateInteractionResponseAsync(8, "t8", InteractionResponse.Autocomplete([AutocompleteChoice.Integer("ten", 10)]), ct);
        await c.EditOriginalResponseAsync(app, "t3", RichMessage(ephemeral: false), ct);
        await c.EditOriginalResponseAsync(app, "t4", new DiscordMessage { Content = new string('x', 5000), Components = [] }, ct);
        await c.CreateFollowUpAsync(app, "t1", RichMessage(ephemeral: true), ct);
        await c.CreateFollowUpAsync(app, "t2", DiscordMessage.Text(new string('y', 2500)), ct);
        await c.BulkOverwriteCommandsAsync(app, null, SampleCommands(), ct);
        await c.BulkOverwriteCommandsAsync(app, 99, SampleCommands(), ct);
        await c.BulkOverwriteCommandsAsync(app, null, [], ct);

        var checkedBodies = 0;
        foreach (var request in f.Server.Requests)
        {
            Assert.True(request.Status is 200 or 204, $"{request.Route} answered {request.Status}: {request.Body}");
            if (!SpecOperations.TryGetValue(request.Route, out var op))
                continue;
            var errors = OpenApiContract.Validate(op.Path, op.Method, request.Body);
            Assert.True(errors.Count == 0, $"{request.Route} body {request.Body} violates the spec: {string.Join("\n", errors)}");
            checkedBodies++;
        }
        Assert.Equal(15, checkedBodies);
        Assert.Equal(25, f.Server.GetCallback(7)!["data"]!["choices"]!.AsArray().Count);
    }

    [Fact]
    public void Validate_BodyBreakingTheSpec_ReportsErrors()
    {
        // Guards the contract test itself: a schema that accepted anything would make the test above worthless.
        var tooLong = "{\"type\":4,\"data\":{\"content\":\"" + new string('x', 2001) + "\"}}";
        Assert.NotEmpty(OpenApiContract.Validate("/interactions/{interaction_id}/{interaction_token}/callback", "post", tooLong));
        Assert.NotEmpty(OpenApiContract.Validate("/applications/{application_id}/commands", "put", """[{"name":"x","description":"d","options":[{"type":3}]}]"""));
        Assert.NotEmpty(OpenApiContract.Validate("/webhooks/{webhook_id}/{webhook_token}/messages/@original", "patch", """{"embeds":[{},{},{},{},{},{},{},{},{},{},{}]}"""));
    }
}
