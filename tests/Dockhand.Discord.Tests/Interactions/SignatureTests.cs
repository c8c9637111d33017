using System.Globalization;
using System.Net;
using System.Text;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Support;
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

    [Theory]
    [InlineData("")]
    [InlineData("abcd")]
    [InlineData("zz23456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00")]
    public void TryParsePublicKey_NotA64HexKey_ReturnsNull(string hex) =>
        Assert.Null(InteractionSignatureVerifier.TryParsePublicKey(hex));

    [Fact]
    public async Task Endpoint_TenThousandForgedRequests_NoneAcceptedAndNo500()
    {
        var ct = TestContext.Current.CancellationToken;
        var handled = 0;
        await using var host = await InteractionsHost.StartAsync((_, r, c) =>
        {
            Interlocked.Increment(ref handled);
            return r.RespondAsync(InteractionResponse.Message("should never happen"), c);
        }, cancellationToken: ct);
        using var wrongKey = new InteractionSigner();
        var random = new Random(20261126);
        var statuses = new int[600];
        var validBody = InteractionPayloads.SlashCommand(host.Rest.ApplicationId, "tok", 5, "status").ToJsonString();

        HttpRequestMessage Forge(int i)
        {
            lock (random)
            {
                var now = DateTimeOffset.UtcNow;
                var ts = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                var body = random.Next(3) == 0 ? validBody : RandomText(random, random.Next(0, 300));
                var request = new HttpRequestMessage(HttpMethod.Post, host.Endpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                string? sig, stamp = ts;
                switch (i % 10)
                {
                    case 0: sig = RandomHex(random, 128); break;                                   // random signature
                    case 1: sig = wrongKey.Sign(ts, Encoding.UTF8.GetBytes(body)); break;          // another key
                    case 2: sig = host.Signer.Sign(ts, Encoding.UTF8.GetBytes(body + " ")); break;  // other body
                    case 3: sig = host.Signer.Sign(ts, Encoding.UTF8.GetBytes(body)); stamp = (now.ToUnixTimeSeconds() - 1).ToString(CultureInfo.InvariantCulture); break;
                    case 4: sig = FlipOneHexDigit(host.Signer.Sign(ts, Encoding.UTF8.GetBytes(body)), random); break;
                    case 5: sig = RandomText(random, random.Next(0, 140)); break;                  // garbage
                    case 6: sig = null; break;                                                     // missing signature
                    case 7: sig = host.Signer.Sign(ts, Encoding.UTF8.GetBytes(body)); stamp = null; break; // missing timestamp
                    case 8:
                        var old = now.AddMinutes(-10).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                        sig = host.Signer.Sign(old, Encoding.UTF8.GetBytes(body)); stamp = old; break; // signed but stale
                    default: sig = RandomHex(random, random.Next(0, 200)); stamp = RandomText(random, random.Next(0, 25)); break;
                }
                if (sig is not null)
                    request.Headers.TryAddWithoutValidation("X-Signature-Ed25519", sig);
                if (stamp is not null)
                    request.Headers.TryAddWithoutValidation("X-Signature-Timestamp", stamp);
                return request;
            }
        }

        await Parallel.ForEachAsync(Enumerable.Range(0, 10_000), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, c) =>
        {
            using var request = Forge(i);
            using var response = await host.Http.SendAsync(request, c);
            Interlocked.Increment(ref statuses[(int)response.StatusCode]);
        });

        Assert.Equal(10_000, statuses[401]);
        Assert.Equal(0, statuses[500]);
        Assert.Equal(0, handled);
        Assert.Empty(host.Rest.Requests);

        // And a genuine request still works afterwards.
        using var genuine = await host.SendSignedAsync(validBody, cancellationToken: ct);
        Assert.Equal(HttpStatusCode.OK, genuine.StatusCode);
    }

    private static string RandomHex(Random r, int length)
    {
        const string digits = "0123456789abcdefABCDEF";
        return string.Create(length, r, (span, rr) => { for (var i = 0; i < span.Length; i++) span[i] = digits[rr.Next(digits.Length)]; });
    }

    private static string RandomText(Random r, int length) =>
        string.Create(length, r, (span, rr) => { for (var i = 0; i < span.Length; i++) span[i] = (char)rr.Next(0x20, 0x7F); });

    private static string FlipOneHexDigit(string hex, Random r)
    {
        var chars = hex.ToCharArray();
        var i = r.Next(chars.Length);
        chars[i] = chars[i] == '0' ? '1' : '0';
        return new string(chars);
    }
}
