using System.Globalization;
using System.Net;
using System.Text;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Rest;
using Dockhand.Discord.Tests.Support;

namespace Dockhand.Discord.Tests.Interactions;

/// <summary>The signature check through the real endpoint, under a flood of forgeries (SignatureTests checks the
/// verifier alone; kept apart so the mutation build, which has no HTTP host, can compile those).</summary>
public sealed class ForgedRequestTests
{
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
