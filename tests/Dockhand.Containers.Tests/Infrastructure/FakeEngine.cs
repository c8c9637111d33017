using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Dockhand.Containers.Tests.Infrastructure;

/// <summary>
/// A scripted Docker engine on 127.0.0.1 that speaks just enough HTTP: it answers <c>/_ping</c> with an
/// <c>API-Version</c> header, refuses versioned paths below its minimum like Docker 29 does, and records every path.
/// </summary>
public sealed class FakeEngine : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly string _maxVersion;
    private readonly Version _minVersion;

    public FakeEngine(string maxVersion, string minVersion)
    {
        _maxVersion = maxVersion;
        _minVersion = Version.Parse(minVersion);
        _listener.Start();
        _loop = AcceptAsync();
    }

    public Uri Endpoint => new($"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public ConcurrentQueue<string> Paths { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        // A client that connects and never finishes its request must not leave this handler waiting forever.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        string? requestLine;
        try
        {
            requestLine = await reader.ReadLineAsync(limit.Token);
            while (!string.IsNullOrEmpty(await reader.ReadLineAsync(limit.Token)))
            {
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var path = requestLine?.Split(' ')[1] ?? "/";
        Paths.Enqueue(path);
        var (status, body) = Respond(path.Split('?')[0]);
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nAPI-Version: {_maxVersion}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), limit.Token);
        await stream.WriteAsync(bytes, limit.Token);
    }

    private (string Status, string Body) Respond(string path)
    {
        if (path == "/_ping")
            return ("200 OK", "OK");
        if (path.StartsWith("/v", StringComparison.Ordinal))
        {
            var version = Version.Parse(path[2..path.IndexOf('/', 1)]);
            if (version < _minVersion)
                return ("400 Bad Request", $"{{\"message\":\"client version {version} is too old. Minimum supported API version is {_minVersion}\"}}");
        }
        return path.EndsWith("/containers/json", StringComparison.Ordinal) ? ("200 OK", "[]") : ("404 Not Found", "{\"message\":\"not here\"}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
