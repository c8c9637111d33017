using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Dockhand.Benchmarks.Support;

/// <summary>Rows of containers that do not exist, for /list at scale (P7 and P1's profile).</summary>
internal static class RecordSeeder
{
    /// <summary><paramref name="records"/> ready rows, older than the bench's real containers so they fill the first page; their containers are gone.</summary>
    public static async Task SeedAsync(string databasePath, string runId, int records, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO containers (discord_user_id, container_name, container_id, image, created_at, state, updated_at) VALUES ($o, $n, $i, $m, $c, 'ready', $c)";
        var o = insert.Parameters.Add("$o", SqliteType.Text);
        var n = insert.Parameters.Add("$n", SqliteType.Text);
        var id = insert.Parameters.Add("$i", SqliteType.Text);
        insert.Parameters.AddWithValue("$m", BenchEnvironment.Image);
        var c = insert.Parameters.Add("$c", SqliteType.Text);
        var origin = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var k = 0; k < records; k++)
        {
            o.Value = (1_170_000_000_000_000_000UL + (ulong)k).ToString(CultureInfo.InvariantCulture);
            n.Value = $"seeded-{k.ToString(CultureInfo.InvariantCulture)}";
            id.Value = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{runId}/{k}")));
            c.Value = origin.AddMinutes(k).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }
}
