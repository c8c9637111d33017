using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Data.Sqlite;

namespace Dockhand.Tests.Deployment;

/// <summary>
/// `dockhand run` as a service manager stops it: SIGTERM while a /create (a signed HTTP interaction) is held at a known
/// step (DOCKHAND_FAULT_HOLD_AT); once the shutdown has begun, the test lets the create go on (DOCKHAND_FAULT_HOLD_RELEASE).
/// The process must exit 0 and leave nothing half-done: every labelled container of the run has a ready record, every
/// record has its container, and no operation is left 'creating'.
/// Mutant: without InteractionDrain (the host stopped without waiting for interactions in flight) both cases failed with
/// a row left 'creating' (and, at create:after-start, its container still there).
/// </summary>
public sealed class ShutdownTests : IAsyncDisposable
{
    private const ulong Admin = 2_000_000_000_000_000_001;
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-shutdown-").FullName;
    private readonly string _runId = "shutdown-" + Guid.NewGuid().ToString("N")[..12];
    private readonly IDockerClient _docker = new DockerClientBuilder().WithEndpoint(new Uri(Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock")).Build();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(FaultInjection.Steps.CreateAfterEngineCreate)]
    [InlineData(FaultInjection.Steps.CreateAfterStart)]
    public async Task Run_SigtermDuringCreate_ExitsZeroAndLeavesNothingHalfDone(string step)
    {
        await using var rest = await LoopbackDiscordRestServer.StartAsync(cancellationToken: Ct);
        using var signer = new InteractionSigner();
        var listen = new Uri($"http://127.0.0.1:{DockhandChild.FreeLoopbackPort()}");
        var settings = new Dictionary<string, string?>
        {
            ["DISCORD_PUBLIC_KEY"] = signer.PublicKeyHex,
            ["DISCORD_API_BASE_URL"] = rest.ApiBaseUrl.AbsoluteUri,
            ["AUTHORIZED_USERS"] = Admin.ToString(CultureInfo.InvariantCulture),
            ["DATABASE_PATH"] = Path.Combine(_directory, "containers.db"),
            ["DEFAULT_IMAGE"] = "dockhand-test/busybox:1",
            ["CONTAINER_NETWORK"] = "none",
            ["CONTAINER_VOLUME_PATH"] = "",
            ["CONTAINER_EXTRA_LABELS"] = "dockhand.test=" + _runId,
            ["LISTEN_URLS"] = listen.ToString().TrimEnd('/'),
            ["METRICS_URLS"] = "http://127.0.0.1:0",
            [FaultInjection.HoldEnvironmentVariable] = step,
            [FaultInjection.HoldReleaseEnvironmentVariable] = Path.Combine(_directory, "release"),
        };
        await using var bot = DockhandChild.Start(_directory, settings, executable: null, "run");
        await bot.WaitHealthyAsync(listen);

        var owner = 3_000_000_000_000_000_000UL + (ulong)Random.Shared.Next(1, 1_000_000);
        var create = InteractionPayloads.SlashCommand(rest.ApplicationId, "itok-" + Guid.NewGuid().ToString("N"), Admin, "create",
            [new TestOption("user", 6, System.Text.Json.Nodes.JsonValue.Create(owner.ToString(CultureInfo.InvariantCulture)), ResolvedUsername: "user" + owner),
             new TestOption("container_name", 3, System.Text.Json.Nodes.JsonValue.Create("held-" + owner))],
            guildId: 1_000_000_000_000_000_777);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using (var deferred = await rest.SendHttpInteractionAsync(http, new Uri(listen, "/interactions"), signer, create, Ct))
            Assert.True(deferred.IsSuccessStatusCode, $"POST /interactions answered {(int)deferred.StatusCode}: {bot.Output}");
        await bot.WaitForOutputAsync(FaultInjection.HoldingMessage + step);

        await bot.SendSigtermAsync();
        await bot.WaitForOutputAsync("Application is shutting down");
        await File.WriteAllTextAsync(Path.Combine(_directory, "release"), "", Ct);
        var exit = await bot.WaitForExitAsync();

        Assert.True(exit == 0, $"exit code {exit?.ToString(CultureInfo.InvariantCulture) ?? "(hung, killed)"} after SIGTERM at {step}:\n{bot.Output}");
        var containers = await _docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["dockhand.test=" + _runId] = true } },
        }, Ct);
        var rows = await RowsAsync();
        Assert.DoesNotContain(rows, r => r.State != "ready");
        Assert.Equal(rows.Select(r => r.ContainerId).Order(), containers.Select(c => c.ID).Order());
        // Finished or rolled back: either way the owner has one whole container or none.
        Assert.True(rows.Count <= 1, string.Join(", ", rows));
    }

    private async Task<List<(string Owner, string ContainerId, string State)>> RowsAsync()
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(_directory, "containers.db"),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT discord_user_id, container_id, state FROM containers";
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<(string, string, string)>();
        while (await reader.ReadAsync(Ct))
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        var leftovers = await _docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["dockhand.test=" + _runId] = true } },
        }, CancellationToken.None);
        foreach (var container in leftovers)
            await _docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        _docker.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
