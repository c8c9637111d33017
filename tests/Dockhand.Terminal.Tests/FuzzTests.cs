using System.Net;
using System.Net.Sockets;
using System.Text;
using Dockhand.Terminal.Tests.Support;

namespace Dockhand.Terminal.Tests;

/// <summary>Malformed requests never get a 500: random paths, queries and headers against the real Kestrel host.</summary>
[Collection(DockerCollection.Name)]
public sealed class FuzzTests
{
    private static readonly string[] Prefixes = ["/terminal/", "/terminal/abc123", "/terminal/abc123/ws", "/_terminal/", "/_terminal/lib/", "/health", "/", "/terminal//", "/terminal/%2e%2e/"];
    private static readonly string[] Fragments = ["..", "%00", "%ff", "%2F", "ws", "token=", "?", "&", "=", "é", "漢", "' OR 1=1", "<script>", "a", "0123456789abcdef", "%", "%%", "//", ";", "\\", "~", "*", "lib/xterm.js", "terminal.html"];
    private static readonly string[] HeaderNames = ["Origin", "Cookie", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Accept", "Range", "If-None-Match", "If-Modified-Since", "Content-Type"];

    [Fact]
    public async Task Fuzz_ThousandRandomRequests_NeverAnswer500()
    {
        await using var host = await TerminalHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var issued = await host.Links.IssueAsync(new Dockhand.Containers.OwnerId(1), "abc123", TestContext.Current.CancellationToken);
        var realToken = issued.Url.Query["?token=".Length..];
        var random = new Random(20261126);
        var statuses = new Dictionary<int, int>();
        var failures = new List<string>();

        for (var i = 0; i < 1000; i++)
        {
            var target = RandomTarget(random, realToken);
            var headers = RandomHeaders(random, realToken);
            var method = random.Next(10) switch { 0 => "POST", 1 => "HEAD", 2 => "PUT", 3 => "OPTIONS", _ => "GET" };
            var status = await SendRawAsync(host.BaseAddress, method, target, headers, TestContext.Current.CancellationToken);
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            if (status >= 500 && !(status == 503 && target.StartsWith("/health", StringComparison.Ordinal)))
                failures.Add($"{status} {method} {target} [{string.Join(" | ", headers)}]");
        }

        var summary = string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}"));
        Artifacts.Write("terminal-fuzz.txt", summary + "\n" + string.Join("\n", failures) + "\n");
        Assert.True(failures.Count == 0, $"{failures.Count} requests got a server error: {string.Join("\n", failures.Take(10))}");
        Assert.True(statuses.Keys.Count(k => k >= 400) >= 3, "the fuzz should reach several refusal paths: " + summary);
    }

    private static string RandomTarget(Random random, string realToken)
    {
        var builder = new StringBuilder(random.Next(2) == 0 ? Prefixes[random.Next(Prefixes.Length)] : "/terminal/abc123" + (random.Next(3) == 0 ? "/ws" : ""));
        var parts = builder.Length > 0 && random.Next(2) == 0 ? 0 : random.Next(4);
        for (var p = 0; p < parts; p++)
            builder.Append(random.Next(3) == 0 ? RandomAscii(random, random.Next(1, 40)) : Fragments[random.Next(Fragments.Length)]);
        switch (random.Next(5))
        {
            case 0:
                builder.Append("?token=").Append(realToken);
                break;
            case 1:
                builder.Append("?token=").Append(RandomAscii(random, random.Next(0, 80)));
                break;
            case 2:
                builder.Append('?').Append(RandomAscii(random, random.Next(0, 200)));
                break;
        }
        // Only characters a request line may carry; everything else is percent-encoded.
        var target = new StringBuilder();
        foreach (var c in builder.ToString())
        {
            if (c > 32 && c < 127)
                target.Append(c);
            else
                foreach (var b in Encoding.UTF8.GetBytes(c.ToString()))
                    target.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return target.ToString();
    }

    private static List<string> RandomHeaders(Random random, string realToken)
    {
        var headers = new List<string>();
        var count = random.Next(5);
        for (var h = 0; h < count; h++)
        {
            var name = HeaderNames[random.Next(HeaderNames.Length)];
            var value = random.Next(6) switch
            {
                0 => "websocket",
                1 => "dockhand_terminal=" + RandomAscii(random, random.Next(0, 60)),
                2 => "http://127.0.0.1",
                3 => realToken,
                _ => RandomAscii(random, random.Next(0, 100)),
            };
            headers.Add($"{name}: {value}");
        }
        return headers;
    }

    private static string RandomAscii(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
            chars[i] = (char)random.Next(33, 127);
        return new string(chars);
    }

    /// <summary>Raw HTTP/1.1 so malformed targets and headers reach the server as they are.</summary>
    private static async Task<int> SendRawAsync(Uri server, string method, string target, List<string> headers, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cancellationToken);
        await using var stream = client.GetStream();
        var request = new StringBuilder()
            .Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(server.Authority).Append("\r\n");
        foreach (var header in headers)
            request.Append(header).Append("\r\n");
        request.Append("Content-Length: 0\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellationToken);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var buffer = new byte[64];
        var read = 0;
        while (read < 12)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
            if (n == 0)
                break;
            read += n;
        }
        var statusLine = Encoding.ASCII.GetString(buffer, 0, read);
        if (read < 12 || !statusLine.StartsWith("HTTP/1.1 ", StringComparison.Ordinal))
            return 0; // connection closed without an answer: not a 500, but record it
        return int.Parse(statusLine.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
    }
}
