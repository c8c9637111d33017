using System.Text.Json.Nodes;
using Dockhand.Tests.Bot.Support;

namespace Dockhand.Tests.Bot;

/// <summary>With the engine unreachable every reply is still one friendly sentence (over HTTP, no gateway).</summary>
public sealed class EngineDownTests : IAsyncLifetime
{
    private BotHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _host = await BotHost.StartAsync(withGateway: false,
        extra: new Dictionary<string, string?> { ["DOCKER_HOST"] = "unix:///tmp/dockhand-no-engine-" + Guid.NewGuid().ToString("N") + ".sock" }, cancellationToken: Ct);

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("create")]
    [InlineData("list")]
    [InlineData("status")]
    public async Task Command_EngineUnreachable_OneSentenceNamingTheEngine(string command)
    {
        var user = BotHost.NewUser();
        var payload = command switch
        {
            "create" => _host.Slash(BotHost.Admin, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", "down-" + user)),
            "status" => _host.Slash(BotHost.Admin, "status", BotHost.UserOption(BotHost.Admin)),
            _ => _host.Slash(BotHost.Admin, command),
        };

        var (status, body) = await _host.PostAsync(payload, Ct);
        Assert.Equal(200, status);
        Assert.Equal(5, JsonNode.Parse(body)!["type"]!.GetValue<int>());
        var edited = await _host.WaitForEditAsync(BotHost.Describe(payload), Ct);

        var content = BotHost.Content(edited);
        if (command == "status")
        {
            Assert.Equal("You don't have a container. An allowlisted user can create one for you with /create.", content);
            return;
        }
        Assert.StartsWith("The Docker engine cannot be reached (", content, StringComparison.Ordinal);
        Assert.EndsWith("Try again shortly, or ask an operator to check it.", content, StringComparison.Ordinal);
        Assert.DoesNotContain("{", content, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", content, StringComparison.Ordinal);
        _host.AssertSentBodiesMatchOpenApi(BotHost.Describe(payload));
    }

    [Fact]
    public async Task Health_EngineUnreachable_503()
    {
        using var response = await _host.Http.GetAsync(new Uri("/health", UriKind.Relative), Ct);

        Assert.Equal(503, (int)response.StatusCode);
        Assert.Contains("\"engine\":{\"status\":\"unhealthy\"", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
