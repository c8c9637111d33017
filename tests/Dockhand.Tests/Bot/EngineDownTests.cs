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
    public async Task Command_EngineUnreachable_FixedSentenceWithoutEngineDetail(string command)
    {
        var user = BotHost.NewUser();
        if (command is "status" or "list")
            await SeedReadyRowAsync(user); // a recorded container, so /status and /list have to ask the engine about it
        var payload = command switch
        {
            "create" => _host.Slash(BotHost.Admin, "create", BotHost.UserOption(user), BotHost.StringOption("container_name", "down-" + user)),
            "status" => _host.Slash(BotHost.Admin, "status", BotHost.UserOption(user)),
            _ => _host.Slash(BotHost.Admin, command),
        };

        var (status, body) = await _host.PostAsync(payload, Ct);
        Assert.Equal(200, status);
        Assert.Equal(5, JsonNode.Parse(body)!["type"]!.GetValue<int>());
        var edited = await _host.WaitForEditAsync(BotHost.Describe(payload), Ct);

        var content = BotHost.Content(edited);
        // A fixed sentence: no transport failure, socket path or host address reaches Discord users.
        Assert.Equal("The Docker engine cannot be reached right now. Try again shortly, or ask an operator to check it.", content);
        Assert.DoesNotContain("{", content, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", content, StringComparison.Ordinal);
        _host.AssertSentBodiesMatchOpenApi(BotHost.Describe(payload));
    }

    /// <summary>Writes a finished ('ready') row straight into the database: with no engine, /create cannot make one.</summary>
    private async Task SeedReadyRowAsync(ulong user)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_host.DatabasePath}");
        await connection.OpenAsync(Ct);
        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO containers (discord_user_id, container_name, container_id, image, created_at, state) VALUES ($user, $name, $id, 'dockhand-test/busybox:1', $at, 'ready')";
        insert.Parameters.AddWithValue("$user", user.ToString(System.Globalization.CultureInfo.InvariantCulture));
        insert.Parameters.AddWithValue("$name", "down-" + user);
        insert.Parameters.AddWithValue("$id", Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N")); // 64 hex digits, as the engine gives
        insert.Parameters.AddWithValue("$at", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, await insert.ExecuteNonQueryAsync(Ct));
    }

    [Fact]
    public async Task Health_EngineUnreachable_503()
    {
        using var response = await _host.Http.GetAsync(new Uri("/health", UriKind.Relative), Ct);

        Assert.Equal(503, (int)response.StatusCode);
        Assert.Contains("\"engine\":{\"status\":\"unhealthy\"", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
