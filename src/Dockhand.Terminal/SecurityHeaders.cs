using Microsoft.AspNetCore.Http;

namespace Dockhand.Terminal;

/// <summary>
/// The headers every response carries, errors and 404s included (DESIGN §5): the host puts
/// <see cref="TerminalServiceCollectionExtensions.UseDockhandSecurityHeaders"/> near the front of its pipeline.
/// </summary>
internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

    public static void Apply(IHeaderDictionary headers)
    {
        if (!headers.ContainsKey("Content-Security-Policy"))
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
    }
}
