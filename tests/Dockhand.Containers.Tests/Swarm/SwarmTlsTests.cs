using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dockhand.Containers.Swarm;
using Dockhand.Containers.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dockhand.Containers.Tests.Swarm;

/// <summary>A node's engine over tcp:// with a TLS client certificate: worker-2 of the test bed listens with --tlsverify.</summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmTlsTests(SwarmTestBed bed)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private SwarmNodeEngines Engines(string certPath) => new(new ContainerOptions { DockerHost = bed.ManagerHost },
        new SwarmSettings
        {
            Backend = ContainerBackend.Swarm,
            NodeEndpoints = new Dictionary<string, Uri> { ["dockhand-swarm-worker-2"] = bed.Worker2Tcp },
            TlsCertPath = certPath,
        }, TimeProvider.System, NullLoggerFactory.Instance);

    [Fact]
    public async Task NodeEngine_TcpWithClientCertificate_AnswersOverTls()
    {
        using var engines = Engines(bed.TlsClientPath);

        var health = await engines.For("dockhand-swarm-worker-2").PingAsync(Ct);

        Assert.True(health.Reachable, health.Error);
        Assert.Equal("1.41", health.ServerApiVersion);
        // The worker's own images: it is the node's engine that answered.
        Assert.True(await engines.For("dockhand-swarm-worker-2").ImageExistsAsync(EngineFixture.TestImage, Ct));
    }

    [Fact]
    public async Task NodeEngine_ServerCertificateFromAnotherCa_IsNotTrusted()
    {
        var directory = Directory.CreateTempSubdirectory("dockhand-tls-").FullName;
        try
        {
            // The right client certificate, but a ca.pem the engine's certificate does not chain to.
            File.Copy(Path.Combine(bed.TlsClientPath, "cert.pem"), Path.Combine(directory, "cert.pem"));
            File.Copy(Path.Combine(bed.TlsClientPath, "key.pem"), Path.Combine(directory, "key.pem"));
            using var key = RSA.Create(2048);
            using var stranger = new CertificateRequest("CN=another-ca", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(Path.Combine(directory, "ca.pem"), stranger.ExportCertificatePem(), Ct);
            using var engines = Engines(directory);

            var health = await engines.For("dockhand-swarm-worker-2").PingAsync(Ct);

            Assert.False(health.Reachable);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
