using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace Dockhand.Benchmarks.Support;

/// <summary>The browser's side of a web terminal: follows the one-time link (cookie), then speaks the WebSocket protocol.</summary>
internal sealed class TerminalSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly Channel<(byte[] Array, int Count)> _frames = Channel.CreateUnbounded<(byte[] Array, int Count)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Task _pump;

    private TerminalSocket(ClientWebSocket socket)
    {
        _socket = socket;
        // One receive loop for the socket's life: cancelling a ClientWebSocket receive would abort the socket.
        _pump = Task.Run(PumpAsync);
    }

    public static async Task<TerminalSocket> OpenAsync(Uri baseAddress, Uri link, CancellationToken cancellationToken)
    {
        var cookies = new CookieContainer();
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies, UseCookies = true };
        using var http = new HttpClient(handler);
        // What the terminal page's script does: redeem the token with a same-origin POST, then open the socket.
        var page = new Uri(baseAddress, link.AbsolutePath);
        using var redeem = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, link.AbsolutePath.TrimEnd('/') + "/session"))
        {
            Content = new StringContent($"{{\"token\":\"{link.Query["?token=".Length..]}\"}}", System.Text.Encoding.UTF8, "application/json"),
        };
        redeem.Headers.Add("Origin", baseAddress.GetLeftPart(UriPartial.Authority));
        using var response = await http.SendAsync(redeem, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new InvalidOperationException($"the terminal link answered {(int)response.StatusCode}");
        var socket = new ClientWebSocket();
        socket.Options.Cookies = cookies;
        socket.Options.SetRequestHeader("Origin", baseAddress.GetLeftPart(UriPartial.Authority));
        await socket.ConnectAsync(new UriBuilder(page) { Scheme = "ws", Path = page.AbsolutePath.TrimEnd('/') + "/ws" }.Uri, cancellationToken);
#pragma warning disable CA2000 // The caller owns it once returned; disposed here if the shell's first prompt never comes.
        var terminal = new TerminalSocket(socket);
#pragma warning restore CA2000
        try
        {
            // Wait for the shell's first prompt so measurements start at an idle shell.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(30));
            await terminal.ReadUntilAsync((bytes, total) => bytes.IndexOfAny("#$"u8) >= 0, limit.Token);
            await terminal.DrainAsync(TimeSpan.FromMilliseconds(100), cancellationToken);
            return terminal;
        }
        catch
        {
            await terminal.DisposeAsync();
            throw;
        }
    }

    private Func<ReadOnlySpan<byte>, bool>? _inline;
    private TaskCompletionSource<long>? _inlineDone;
    private long _inlineTotal;

    /// <summary>
    /// For throughput: the receive loop itself hands every read to <paramref name="done"/> (no copy, no queue) until it
    /// returns true; returns the bytes seen. The client should cost as little as the anchor's pipe reader.
    /// </summary>
    public Task<long> StreamUntilAsync(Func<ReadOnlySpan<byte>, bool> done, CancellationToken cancellationToken)
    {
        var finished = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _inlineTotal = 0;
        _inlineDone = finished;
        Volatile.Write(ref _inline, done);
        return finished.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Binary frames (or partial reads of them) consumed so far.</summary>
    public long Frames { get; private set; }

    public Task SendAsync(string keys, CancellationToken cancellationToken)
        => _socket.SendAsync(Encoding.UTF8.GetBytes(keys), WebSocketMessageType.Binary, true, cancellationToken);

    /// <summary>
    /// Reads terminal output until <paramref name="done"/> says so (given the latest chunk and the total of bytes so far).
    /// Returns that total.
    /// </summary>
    public async Task<long> ReadUntilAsync(Func<ReadOnlySpan<byte>, long, bool> done, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            if (!await _frames.Reader.WaitToReadAsync(cancellationToken))
                throw new InvalidOperationException("the terminal closed");
            while (_frames.Reader.TryRead(out var frame))
            {
                Frames++;
                total += frame.Count;
                var finished = done(frame.Array.AsSpan(0, frame.Count), total);
                ArrayPool<byte>.Shared.Return(frame.Array);
                if (finished)
                    return total;
            }
        }
    }

    /// <summary>Drops whatever arrives until <paramref name="quiet"/> passes with nothing new.</summary>
    public async Task DrainAsync(TimeSpan quiet, CancellationToken cancellationToken)
    {
        while (true)
        {
            while (_frames.Reader.TryRead(out var dropped))
                ArrayPool<byte>.Shared.Return(dropped.Array);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(quiet);
            try
            {
                if (!await _frames.Reader.WaitToReadAsync(limit.Token))
                    return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                    break;
                if (result.MessageType == WebSocketMessageType.Binary && result.Count > 0 && Volatile.Read(ref _inline) is { } inline)
                {
                    Frames++;
                    _inlineTotal += result.Count;
                    if (inline(buffer.AsSpan(0, result.Count)))
                    {
                        Volatile.Write(ref _inline, null);
                        _inlineDone!.TrySetResult(_inlineTotal);
                    }
                }
                else if (result.MessageType == WebSocketMessageType.Binary && result.Count > 0)
                {
                    var copy = ArrayPool<byte>.Shared.Rent(result.Count);
                    buffer.AsSpan(0, result.Count).CopyTo(copy);
                    _frames.Writer.TryWrite((copy, result.Count));
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
        _socket.Abort();
        await _pump;
        _socket.Dispose();
    }
}
