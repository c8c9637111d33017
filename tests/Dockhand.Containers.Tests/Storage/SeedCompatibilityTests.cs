using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Dockhand.Containers.Tests.Storage;

/// <summary>A containers.db written by the original Python bot keeps working through the service, not only the schema.</summary>
public sealed class SeedCompatibilityTests(EngineFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Service_SeedDatabaseWithRows_FindsListsAndDestroysThem()
    {
        var directory = Directory.CreateTempSubdirectory("dockhand-seed-").FullName;
        var path = Path.Combine(directory, "containers.db");
        await SeedDatabase.WriteAsync(path, """
                INSERT INTO containers VALUES ('80351110224678912', 'alice-box', 'abc123', 'ubuntu:24.04', '2024-05-01T10:00:00');
                INSERT INTO containers VALUES ('80351110224678913', 'bob-box', 'def456', 'ubuntu:24.04', '2024-05-02T11:30:00.123456');
                INSERT INTO terminal_tokens VALUES ('abc123', 'old-token', '2024-05-01T11:00:00');
            """, Ct);
        await using var harness = await Harness.CreateAsync(fixture, directory: directory);
        var alice = new OwnerId(80351110224678912);

        var record = await harness.Service.FindAsync(alice, Ct);
        var page = await harness.Service.ListAsync(0, 10, Ct);
        var taken = await harness.Service.CreateAsync(harness.Request(Harness.NewOwner(), "bob-box"), cancellationToken: Ct);
        var destroyed = await harness.Service.DestroyAsync(alice, Actor.Cli("test"), cancellationToken: Ct);

        Assert.NotNull(record);
        Assert.Equal(("alice-box", "abc123", "ubuntu:24.04"), (record.Name, record.ContainerId, record.Image));
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero), record.CreatedAt);
        Assert.Equal(2, page.Total);
        Assert.Equal(["alice-box", "bob-box"], page.Items.Select(i => i.Record.Name));
        Assert.All(page.Items, i => Assert.Equal(LiveState.Missing, i.State));
        Assert.IsType<Refusals.NameTaken>(Assert.IsType<CreateResult.Refused>(taken).Reason);
        Assert.Equal("abc123", Assert.IsType<DestroyResult.Destroyed>(destroyed).Record?.ContainerId);
        Assert.NotNull(await harness.Service.FindAsync(new OwnerId(80351110224678913), Ct));
        await using var connection = await harness.Store.Database.OpenAsync(Ct);
        await using var tokens = connection.CreateCommand();
        tokens.CommandText = "SELECT COUNT(*) FROM terminal_tokens";
        Assert.Equal(0L, await tokens.ExecuteScalarAsync(Ct)); // migration 004 clears the seed's clear-text tokens
    }
}
