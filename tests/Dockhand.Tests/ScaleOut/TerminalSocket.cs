using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Dockhand.Tests.ScaleOut;

/// <summary>What the terminal page's script does over its WebSocket, for tests against real <c>dockhand run</c> processes.</summary>
internal sealed class TerminalSocket : IAsyncDisposable
{
    private static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(30);
    private readonly ClientWebSocket _socket;
    private readonly StringBuilder _output = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();

    private TerminalSocket(ClientWebSocket socket) => _socket = socket;

    /// <summary>The 'attached' message: the shell, and the notice a reopened session carries (null otherwise).</summary>
    public sealed record Attached(string Shell, string? Notice);

    public static async Task<TerminalSocket> ConnectAsync(Uri page, CookieContainer cookies, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.Cookies = cookies;
        socket.Options.SetRequestHeader("Origin", page.GetLeftPart(UriPartial.Authority));
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(StepLimit);
        try
        {
            await socket.ConnectAsync(new UriBuilder(page) { Scheme = "ws", Path = page.AbsolutePath + "/ws" }.Uri, limit.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new TerminalSocket(socket);
    }

    public async Task<Attached> WaitAttachedAsync(CancellationToken cancellationToken)
    {
        Attached? attached = null;
        await ReadUntilAsync(text =>
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            var type = root.GetProperty("type").GetString();
            Assert.True(type != "ended", "the server ended the session: " + (root.TryGetProperty("reason", out var r) ? r.GetString() : ""));
            if (type == "attached")
                attached = new Attached(root.GetProperty("shell").GetString()!, root.TryGetProperty("notice", out var n) ? n.GetString() : null);
        }, () => attached is not null, "an 'attached' message", cancellationToken);
        return attached!;
    }

    /// <summary>Waits for an output line that is exactly <paramref name="line"/> (the typed command's echo is not).</summary>
    public Task WaitForOutputAsync(string line, CancellationToken cancellationToken)
        => ReadUntilAsync(_ => { }, () => _output.ToString().Split('\n').Any(l => l.TrimEnd('\r') == line), $"the line '{line}'", cancellationToken);

    public async Task SendAsync(string keys, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(StepLimit);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(keys), WebSocketMessageType.Binary, true, limit.Token);
    }

    private async Task ReadUntilAsync(Action<string> onControl, Func<bool> done, string what, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(StepLimit);
        var buffer = new byte[16384];
        var text = new MemoryStream();
        while (!done())
        {
            WebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(buffer, limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new Xunit.Sdk.XunitException($"No {what} within {StepLimit.TotalSeconds} s; output: {_output}");
            }
            Assert.True(result.MessageType != WebSocketMessageType.Close, $"The socket closed before {what}; output: {_output}");
            if (result.MessageType == WebSocketMessageType.Binary)
            {
                var chars = new char[_decoder.GetCharCount(buffer, 0, result.Count)];
                _decoder.GetChars(buffer, 0, result.Count, chars, 0);
                _output.Append(chars);
            }
            else
            {
                text.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    onControl(Encoding.UTF8.GetString(text.ToArray()));
                    text.SetLength(0);
                }
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
