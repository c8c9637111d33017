using System.Buffers;
using System.Globalization;
using System.Text;
using NSec.Cryptography;

namespace Dockhand.Discord.Interactions;

/// <summary>
/// Verifies Discord's Ed25519 signature over <c>X-Signature-Timestamp + rawBody</c> (NSec/libsodium) and rejects
/// timestamps more than <see cref="MaxClockSkew"/> away from now. Pure: no parsing of the body.
/// </summary>
internal sealed class InteractionSignatureVerifier(PublicKey publicKey, TimeProvider time)
{
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);
    private const int SignatureBytes = 64;
    private const int MaxTimestampChars = 19;

    /// <summary>Parses a hex public key (64 hex chars); null when it is not one.</summary>
    public static PublicKey? TryParsePublicKey(string? hex)
    {
        if (hex is null || hex.Length != 64)
            return null;
        Span<byte> raw = stackalloc byte[32];
        // 64 characters: either all hex (Done, 32 bytes) or not hex at all.
        if (Convert.FromHexString(hex, raw, out _, out _) != OperationStatus.Done)
            return null;
        return PublicKey.TryImport(SignatureAlgorithm.Ed25519, raw, KeyBlobFormat.RawPublicKey, out var key) ? key : null;
    }

    public bool Verify(string? signatureHex, string? timestamp, ReadOnlySpan<byte> body)
    {
        if (signatureHex is null || signatureHex.Length != SignatureBytes * 2 || timestamp is null
            || timestamp.Length is 0 or > MaxTimestampChars || !timestamp.All(char.IsAsciiDigit))
            return false;
        Span<byte> signature = stackalloc byte[SignatureBytes];
        if (Convert.FromHexString(signatureHex, signature, out _, out _) != OperationStatus.Done) // its length is checked above
            return false;

        var data = new byte[timestamp.Length + body.Length];
        Encoding.ASCII.GetBytes(timestamp, data);
        body.CopyTo(data.AsSpan(timestamp.Length));
        if (!SignatureAlgorithm.Ed25519.Verify(publicKey, data, signature))
            return false;

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return false;
        var skew = Math.Abs(time.GetUtcNow().ToUnixTimeSeconds() - seconds);
        return skew <= MaxClockSkew.TotalSeconds;
    }
}
