namespace Dockhand.Discord.Gateway;

/// <summary>
/// The gateway closed with a code after which reconnecting cannot help (4004, 4010–4014).
/// <see cref="DiscordGatewayClient.RunAsync"/> ends with it; the message names the cause and what to do.
/// </summary>
public sealed class GatewayFatalException : Exception
{
    public GatewayFatalException(int closeCode)
        : base(GatewayCloseCodes.FatalMessage(closeCode)) => CloseCode = closeCode;

    public GatewayFatalException()
    {
    }

    public GatewayFatalException(string message)
        : base(message)
    {
    }

    public GatewayFatalException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The WebSocket close code Discord sent.</summary>
    public int CloseCode { get; }
}
