using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Dockhand.Benchmarks.Support;

/// <summary>
/// Issues one-time terminal links by writing the row <c>dockhand terminal --user</c> writes (SHA-256 of a 256-bit
/// token in <c>terminal_links</c>), without the CLI's process start per link and without the terminal module's types:
/// the server under test redeems them exactly as it redeems its own. Not rate-limited, like TerminalLinks.IssueAsync.
/// </summary>
internal static class TerminalLinkIssuer
{
    public static async Task<Uri> IssueAsync(string databasePath, Uri serviceUrl, ulong owner, string containerId, CancellationToken cancellationToken)
    {
        var token = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = DateTimeOffset.UtcNow;
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False;Default Timeout=30");
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO terminal_links (token_hash, owner_id, container_id, created_at, expires_at, used_at)
            VALUES ($hash, $owner, $container, $created, $expires, NULL)
            """;
        command.Parameters.AddWithValue("$hash", Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token))));
        command.Parameters.AddWithValue("$owner", owner.ToString(CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$container", containerId);
        command.Parameters.AddWithValue("$created", Timestamp(now));
        command.Parameters.AddWithValue("$expires", Timestamp(now.AddHours(1)));
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new Uri($"{serviceUrl.AbsoluteUri.TrimEnd('/')}/terminal/{Uri.EscapeDataString(containerId)}?token={token}");
    }

    /// <summary>Dockhand's one fixed-width UTC format (text order is time order).</summary>
    public static string Timestamp(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
