using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Dockhand.Benchmarks.Support;

/// <summary>
/// A profiling aid (dotnet-trace is not available here): a Unix-socket relay in front of the Docker engine that notes
/// when each request line leaves and when its status line comes back. Point DOCKER_HOST at <see cref="Endpoint"/>;
/// what is left of a call's time between engine requests is the caller's own work.
/// </summary>
internal sealed class EngineTracer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public EngineTracer(string path, string target = "/var/run/docker.sock")
    {
        Path = path;
        _target = target;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(64);
        _accept = Task.Run(AcceptAsync);
    }

    public string Path { get; }

    public string Endpoint => "unix://" + Path;

    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public ConcurrentQueue<(double AtMs, string Event)> Events { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using var c = client;
                using var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await engine.ConnectAsync(new UnixDomainSocketEndPoint(_target));
                await Task.WhenAny(PumpAsync(c, engine, "→ "), PumpAsync(engine, c, "← "));
            });
        }
    }

    private async Task PumpAsync(Socket from, Socket to, string direction)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, _stop.Token);
                if (n == 0)
                    return;
                var text = Encoding.ASCII.GetString(buffer, 0, Math.Min(n, 160));
                if (text.StartsWith("GET ", StringComparison.Ordinal) || text.StartsWith("POST ", StringComparison.Ordinal)
                    || text.StartsWith("DELETE ", StringComparison.Ordinal) || text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal))
                    Events.Enqueue((Clock.Elapsed.TotalMilliseconds, direction + text.Split('\r')[0]));
                await to.SendAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        File.Delete(Path);
    }
}
