using System.Text;

namespace Dockhand.Terminal.Tests;

/// <summary>The control messages the page sends, put back together from the text frames they arrive in.</summary>
public sealed class TerminalProtocolTests
{
    [Fact]
    public void TryReadResize_MessageSplitOverFrames_ReadsItOnTheLastFrame()
    {
        var reader = new ControlMessageReader();
        var message = Encoding.UTF8.GetBytes("{\"type\":\"resize\",\"cols\":120,\"rows\":40}");

        Assert.False(reader.TryReadResize(message.AsSpan(0, 10), endOfMessage: false, out _, out _));
        Assert.True(reader.TryReadResize(message.AsSpan(10), endOfMessage: true, out var columns, out var rows));

        Assert.Equal((120, 40), (columns, rows));
    }

    [Fact]
    public void TryReadResize_MessageOneByteOverTheLimit_IsDroppedWholeAndTheNextOneIsRead()
    {
        var reader = new ControlMessageReader();
        // The first frame alone is a valid resize padded to exactly the limit; one more byte makes the message too long.
        var json = "{\"type\":\"resize\",\"cols\":80,\"rows\":24}";
        var atTheLimit = Encoding.UTF8.GetBytes(json + new string(' ', TerminalProtocol.MaxControlMessageBytes - json.Length));

        Assert.False(reader.TryReadResize(atTheLimit, endOfMessage: false, out _, out _));
        Assert.False(reader.TryReadResize(" "u8, endOfMessage: true, out _, out _));

        Assert.True(reader.TryReadResize("{\"type\":\"resize\",\"cols\":81,\"rows\":25}"u8, endOfMessage: true, out var columns, out var rows));
        Assert.Equal((81, 25), (columns, rows));
    }

    [Fact]
    public void TryReadResize_MessageExactlyAtTheLimit_IsRead()
    {
        var json = "{\"type\":\"resize\",\"cols\":80,\"rows\":24}";
        var atTheLimit = Encoding.UTF8.GetBytes(json + new string(' ', TerminalProtocol.MaxControlMessageBytes - json.Length));

        Assert.True(new ControlMessageReader().TryReadResize(atTheLimit, endOfMessage: true, out var columns, out var rows));
        Assert.Equal((80, 24), (columns, rows));
    }

    [Theory]
    [InlineData("{\"type\":\"resize\",\"cols\":0,\"rows\":24}")]
    [InlineData("{\"type\":\"resize\",\"cols\":80,\"rows\":501}")]
    [InlineData("{\"type\":\"other\",\"cols\":80,\"rows\":24}")]
    [InlineData("not json")]
    public void TryReadResize_AnythingButAValidResize_IsIgnored(string text)
        => Assert.False(new ControlMessageReader().TryReadResize(Encoding.UTF8.GetBytes(text), endOfMessage: true, out _, out _));
}
