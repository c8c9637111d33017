using System.Net.Security;
using Docker.DotNet.Handler.Abstractions;
using System.Security.Cryptography.X509Certificates;

namespace Dockhand.Containers.Swarm;

/// <summary>
/// A TLS client for a node's tcp:// engine, from Docker's usual files: ca.pem (the CA that signed the engine's
/// certificate), cert.pem and key.pem (this client). The engine's certificate is checked against ca.pem only, not the
/// machine's trust store: that is what <c>docker --tlsverify</c> does.
/// </summary>
/// <para>Docker.DotNet's transports speak https only when their <see cref="IAuthProvider"/> says TLS is on, and hand it
/// their handler to configure: this is that provider.</para>
internal sealed class SwarmTls(X509Certificate2 client, X509Certificate2Collection authorities) : IAuthProvider
{
    public bool TlsEnabled => true;

    public HttpMessageHandler ConfigureHandler(HttpMessageHandler handler)
    {
        // The transport's SocketsHttpHandler may sit under delegating handlers (Dockhand's API version prefix).
        var inner = handler;
        while (inner is DelegatingHandler delegating && delegating.InnerHandler is not null)
            inner = delegating.InnerHandler;
        if (inner is not SocketsHttpHandler sockets)
            throw new InvalidOperationException($"TLS client certificates need a SocketsHttpHandler, not {inner.GetType().Name}");
        Apply(sockets.SslOptions);
        return handler;
    }

    public X509Certificate2 ClientCertificate { get; } = client;

    public static SwarmTls Load(string directory)
    {
#pragma warning disable CA2000 // The certificate lives as long as the SwarmTls that holds it (the process), as the TLS options use it.
        var client = X509Certificate2.CreateFromPemFile(Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"));
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(Path.Combine(directory, "ca.pem"));
        return new SwarmTls(client, authorities);
#pragma warning restore CA2000
    }

    /// <summary>Applies the client certificate and the ca.pem-only server check to a handler's TLS options.</summary>
    public void Apply(SslClientAuthenticationOptions ssl)
    {
        ArgumentNullException.ThrowIfNull(ssl);
        ssl.ClientCertificates = [ClientCertificate];
        ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is null)
                return false;
            // Only a chain problem is forgiven, and only when the chain ends at ca.pem; a name mismatch never is.
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
    }
}
