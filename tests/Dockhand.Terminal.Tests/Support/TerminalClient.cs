using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Dockhand.Terminal.Tests.Support;

/// <summary>A test-side terminal page: opens a link like a browser would, then talks the WebSocket protocol.</summary>
public sealed partial class TerminalClient : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly List<JsonElement> _controls = [];

    private TerminalClient(ClientWebSocket socket, CookieContainer cookies, Uri pageUri)
    {
        Socket = socket;
        Cookies = cookies;
        PageUri = pageUri;
    }

    public ClientWebSocket Socket { get; }

    public CookieContainer Cookies { get; }

    public Uri PageUri { get; }

    public string Output => _output.ToString();

    public string? EndedReason { get; private set; }

    public string? Shell { get; private set; }

    /// <summary>Container name and owner id from the "attached" message.</summary>
    public (string? Container, string? Owner) Whose { get; private set; }

    public bool Closed { get; private set; }

    /// <summary>The last 'attached' message's notice (a session reopened with a new shell); null when it had none.</summary>
    public string? Notice { get; private set; }

    /// <summary>Redeems the one-time link as the page's script does (expects 200 and the cookie), then connects the WebSocket.</summary>
    public static async Task<TerminalClient> OpenAsync(TerminalHost host, Uri link, CancellationToken cancellationToken)
    {
        var cookies = new CookieContainer();
        using var http = host.CreateClient(cookies);
        http.Timeout = StepTimeout;
        using var response = await RedeemAsync(http, host, link, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new InvalidOperationException($"The link answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        var page = new Uri(host.BaseAddress, link.AbsolutePath);
        return await ConnectAsync(host, page, cookies, cancellationToken);
    }

    /// <summary>
    /// What the page's script sends for <paramref name="link"/>: <c>POST /terminal/{id}/session</c> with the token in a
    /// JSON body and the page's Origin (or <paramref name="origin"/>; empty sends none).
    /// </summary>
    public static async Task<HttpResponseMessage> RedeemAsync(HttpClient http, TerminalHost host, Uri link, CancellationToken cancellationToken,
        string? origin = null, string? tokenOverride = null)
    {
        var token = tokenOverride ?? System.Web.HttpUtility.ParseQueryString(link.Query)["token"];
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.BaseAddress, link.AbsolutePath.TrimEnd('/') + "/session"))
        {
            Content = new StringContent(JsonSerializer.Serialize(new Dictionary<string, string?> { ["token"] = token }), Encoding.UTF8, "application/json"),
        };
        origin ??= host.BaseAddress.GetLeftPart(UriPartial.Authority);
        if (origin.Length > 0)
            request.Headers.Add("Origin", origin);
        return await http.SendAsync(request, cancellationToken);
    }

    public static async Task<TerminalClient> ConnectAsync(TerminalHost host, Uri page, CookieContainer cookies, CancellationToken cancellationToken, string? origin = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.Cookies = cookies;
        socket.Options.SetRequestHeader("Origin", origin ?? host.BaseAddress.GetLeftPart(UriPartial.Authority));
        var ws = new UriBuilder(page) { Scheme = "ws", Path = page.AbsolutePath.TrimEnd('/') + "/ws" }.Uri;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(StepTimeout);
            await socket.ConnectAsync(ws, limit.Token);
        }
        return new TerminalClient(socket, cookies, page);
    }

    /// <summary>The longest a connect or one send may take before the test fails instead of hanging.</summary>
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);

    public Task SendAsync(string keys, CancellationToken cancellationToken)
        => SendWithinAsync(Encoding.UTF8.GetBytes(keys), WebSocketMessageType.Binary, cancellationToken);

    public Task ResizeAsync(int columns, int rows, CancellationToken cancellationToken)
        => SendWithinAsync(Encoding.UTF8.GetBytes($$"""{"type":"resize","cols":{{columns}},"rows":{{rows}}}"""), WebSocketMessageType.Text, cancellationToken);

    private async Task SendWithinAsync(byte[] bytes, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(StepTimeout);
        await Socket.SendAsync(bytes, type, true, limit.Token);
    }

    /// <summary>Reads until <paramref name="done"/> holds for the output seen so far, the socket closes, or the timeout passes.</summary>
    public async Task<bool> ReadUntilAsync(Func<TerminalClient, bool> done, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var buffer = new byte[16384];
        var text = new MemoryStream();
        try
        {
            while (!done(this))
            {
                if (Closed)
                    return false;
                var result = await Socket.ReceiveAsync(buffer.AsMemory(), limit.Token);
                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        Closed = true;
                        break;
                    case WebSocketMessageType.Binary:
                        var chars = new char[_decoder.GetCharCount(buffer, 0, result.Count)];
                        _decoder.GetChars(buffer, 0, result.Count, chars, 0);
                        _output.Append(chars);
                        break;
                    case WebSocketMessageType.Text:
                        text.Write(buffer, 0, result.Count);
                        if (result.EndOfMessage)
                        {
                            var element = JsonDocument.Parse(text.ToArray()).RootElement.Clone();
                            text.SetLength(0);
                            _controls.Add(element);
                            var type = element.GetProperty("type").GetString();
                            if (type == "ended")
                                EndedReason = element.GetProperty("reason").GetString();
                            else if (type == "attached")
                            {
                                Shell = element.GetProperty("shell").GetString();
                                Whose = (element.GetProperty("container").GetString(), element.GetProperty("owner").GetString());
                                Notice = element.TryGetProperty("notice", out var notice) ? notice.GetString() : null;
                            }
                        }
                        break;
                }
            }
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (WebSocketException)
        {
            Closed = true;
            return done(this);
        }
    }

    public Task<bool> ExpectAsync(string text, CancellationToken cancellationToken, int seconds = 15)
        => ReadUntilAsync(c => c.Output.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(seconds), cancellationToken);

    /// <summary>Waits for an output line that is exactly <paramref name="line"/> once terminal escapes and CRs are removed.</summary>
    public Task<bool> ExpectLineAsync(string line, CancellationToken cancellationToken, int seconds = 15)
        => ReadUntilAsync(c => HasLine(c.Output, line), TimeSpan.FromSeconds(seconds), cancellationToken);

    public static bool HasLine(string output, string line)
        => Escapes().Replace(output, "").Replace("\r", "", StringComparison.Ordinal).Split('\n').Any(l => l.Trim() == line);

    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9])")]
    private static partial System.Text.RegularExpressions.Regex Escapes();

    public Task<bool> WaitEndedAsync(CancellationToken cancellationToken, int seconds = 20)
        => ReadUntilAsync(c => c.EndedReason is not null, TimeSpan.FromSeconds(seconds), cancellationToken);

    public void ClearOutput() => _output.Clear();

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        }
        Socket.Dispose();
    }
}
