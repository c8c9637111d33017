using System.Globalization;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Discord.Tests.Interactions;

public sealed class SignatureTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-26T12:00:00Z", CultureInfo.InvariantCulture);
    private static readonly byte[] Body = """{"type":1,"id":"1","application_id":"2","token":"t","version":1}"""u8.ToArray();

    private static (InteractionSignatureVerifier Verifier, InteractionSigner Signer, string Timestamp) Create()
    {
        var signer = new InteractionSigner();
        var key = InteractionSignatureVerifier.TryParsePublicKey(signer.PublicKeyHex)!;
        return (new InteractionSignatureVerifier(key, new FakeTimeProvider(Now)), signer, Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Verify_ValidSignature_Accepts()
    {
        var (verifier, signer, ts) = Create();
        using (signer)
            Assert.True(verifier.Verify(signer.Sign(ts, Body), ts, Body));
    }

    [Fact]
    public void Verify_TamperedBody_Rejects()
    {
        var (verifier, signer, ts) = Create();
        using (signer)
        {
            var sig = signer.Sign(ts, Body);
            var tampered = (byte[])Body.Clone();
            tampered[^2] ^= 1;
            Assert.False(verifier.Verify(sig, ts, tampered));
        }
    }

    [Fact]
    public void Verify_TamperedTimestamp_Rejects()
    {
        var (verifier, signer, ts) = Create();
        using (signer)
        {
            var sig = signer.Sign(ts, Body);
            var other = (Now.ToUnixTimeSeconds() + 1).ToString(CultureInfo.InvariantCulture);
            Assert.False(verifier.Verify(sig, other, Body));
        }
    }

    [Fact]
    public void Verify_SignedByAnotherKey_Rejects()
    {
        var (verifier, signer, ts) = Create();
        using var other = new InteractionSigner();
        using (signer)
            Assert.False(verifier.Verify(other.Sign(ts, Body), ts, Body));
    }

    [Theory]
    [InlineData(null, "ts")]
    [InlineData("sig", null)]
    [InlineData("", "")]
    [InlineData("zz", "ts")]
    [InlineData("garbage-not-hex", "ts")]
    public void Verify_MissingOrGarbageHeaders_Rejects(string? signature, string? timestamp)
    {
        var (verifier, signer, ts) = Create();
        using (signer)
        {
            var real = signer.Sign(ts, Body);
            var sig = signature switch { "sig" => real, "zz" => new string('z', 128), _ => signature };
            Assert.False(verifier.Verify(sig, timestamp == "ts" ? ts : timestamp, Body));
        }
    }

    [Fact]
    public void Verify_WrongLengthOrOddHex_Rejects()
    {
        var (verifier, signer, ts) = Create();
        using (signer)
        {
            var real = signer.Sign(ts, Body);
            Assert.False(verifier.Verify(real[..126], ts, Body));
            Assert.False(verifier.Verify(real + "00", ts, Body));
            Assert.False(verifier.Verify(real[..127] + "g", ts, Body));
            Assert.False(verifier.Verify(real, " " + ts, Body));
        }
    }

    [Fact]
    public void Verify_StaleOrFutureTimestamp_RejectsEvenWhenSigned()
    {
        var (verifier, signer, _) = Create();
        using (signer)
        {
            var stale = (Now.ToUnixTimeSeconds() - 301).ToString(CultureInfo.InvariantCulture);
            var future = (Now.ToUnixTimeSeconds() + 301).ToString(CultureInfo.InvariantCulture);
            var recent = (Now.ToUnixTimeSeconds() - 299).ToString(CultureInfo.InvariantCulture);
            Assert.False(verifier.Verify(signer.Sign(stale, Body), stale, Body));
            Assert.False(verifier.Verify(signer.Sign(future, Body), future, Body));
            Assert.True(verifier.Verify(signer.Sign(recent, Body), recent, Body));
        }
    }

    [Fact]
    public void Verify_TimestampExactlyFiveMinutesOff_Accepts()
    {
        var (verifier, signer, _) = Create();
        using (signer)
        {
            var oldest = (Now.ToUnixTimeSeconds() - 300).ToString(CultureInfo.InvariantCulture);
            var newest = (Now.ToUnixTimeSeconds() + 300).ToString(CultureInfo.InvariantCulture);
            Assert.True(verifier.Verify(signer.Sign(oldest, Body), oldest, Body));
            Assert.True(verifier.Verify(signer.Sign(newest, Body), newest, Body));
        }
    }

    [Fact]
    public void Verify_SignedTimestampTooLargeForALong_Rejects()
    {
        // 19 digits pass the shape check but not long.TryParse: a valid signature must not make that an accept.
        var (verifier, signer, _) = Create();
        using (signer)
        {
            const string overflow = "9999999999999999999";
            Assert.False(verifier.Verify(signer.Sign(overflow, Body), overflow, Body));
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("abcd")]
    [InlineData("zz23456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00")]
    public void TryParsePublicKey_NotA64HexKey_ReturnsNull(string? hex) =>
        Assert.Null(InteractionSignatureVerifier.TryParsePublicKey(hex));
}
