using System.Globalization;
using System.Text;
using NSec.Cryptography;

namespace Dockhand.Discord.Testing.Rest;

/// <summary>
/// Plays Discord's part of the HTTP interactions endpoint: holds a real Ed25519 key pair (NSec) and signs
/// <c>timestamp + body</c> the way Discord does. Give <see cref="PublicKeyHex"/> to DISCORD_PUBLIC_KEY.
/// </summary>
public sealed class InteractionSigner : IDisposable
{
    private readonly Key _key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

    public string PublicKeyHex => Convert.ToHexStringLower(_key.PublicKey.Export(KeyBlobFormat.RawPublicKey));

    /// <summary>The signature (hex) of <paramref name="timestamp"/> + <paramref name="body"/>.</summary>
    public string Sign(string timestamp, ReadOnlySpan<byte> body)
    {
        var data = new byte[Encoding.UTF8.GetByteCount(timestamp) + body.Length];
        var n = Encoding.UTF8.GetBytes(timestamp, data);
        body.CopyTo(data.AsSpan(n));
        return Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(_key, data));
    }

    /// <summary>A signed POST to <paramref name="endpoint"/>, as Discord would send it at <paramref name="now"/>.</summary>
    public HttpRequestMessage CreateRequest(Uri endpoint, string body, DateTimeOffset now)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TryAddWithoutValidation("X-Signature-Ed25519", Sign(timestamp, bytes));
        request.Headers.TryAddWithoutValidation("X-Signature-Timestamp", timestamp);
        request.Headers.TryAddWithoutValidation("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)");
        return request;
    }

    public void Dispose() => _key.Dispose();
}
