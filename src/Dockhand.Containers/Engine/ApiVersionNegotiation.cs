using System.Globalization;
using System.Net.Http.Headers;
using Docker.DotNet;
using Docker.DotNet.Handler.Abstractions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Containers.Engine;

/// <summary>
/// Builds a Docker client that negotiates the API version the way the docker CLI does: on the first request it
/// reads <c>GET /_ping</c> (header <c>API-Version</c>, falling back to <c>GET /version</c>) and from then on
/// prefixes every path with <c>/v{min(client max, server max)}</c>. Docker.DotNet.Enhanced 4.3.3 does not negotiate
/// itself: unversioned paths work but take whatever the server offers, and a fixed version fails on one engine or
/// another (1.44 is refused by 20.10; anything below 1.44 is refused by Docker 29). A failed negotiation is not
/// cached, so a client built while the engine is down works once it is up.
/// </summary>
internal static class NegotiatingDockerClient
{
    /// <summary>The newest Engine API version the models of Docker.DotNet.Enhanced 4.3.3 describe.</summary>
    public static readonly Version ClientMaxApiVersion = new(1, 51);

    /// <param name="tls">For a tcp:// engine that wants a TLS client certificate (a Swarm node, see Swarm/SwarmTls.cs): the
    /// client then speaks https with that certificate.</param>
    public static DockerClient Build(Uri endpoint, ApiVersionState state, Swarm.SwarmTls? tls = null)
    {
        var builder = new DockerClientBuilder().WithEndpoint(endpoint);
        if (tls is not null)
            builder = builder.WithAuthProvider(tls);
        return endpoint.Scheme switch
        {
            "unix" => builder.WithTransportOptions(
                new Factory<Docker.DotNet.Unix.UnixSocketTransportOptions>(Docker.DotNet.Unix.DockerHandlerFactory.Instance, state),
                new Docker.DotNet.Unix.UnixSocketTransportOptions()).Build(),
            _ => builder.WithTransportOptions(
                new Factory<Docker.DotNet.NativeHttp.NativeHttpTransportOptions>(Docker.DotNet.NativeHttp.DockerHandlerFactory.Instance, state),
                new Docker.DotNet.NativeHttp.NativeHttpTransportOptions()).Build(),
        };
    }

    private sealed class Factory<TOptions>(IDockerHandlerFactory<TOptions> inner, ApiVersionState state) : IDockerHandlerFactory<TOptions>
    {
        public ResolvedTransport CreateHandler(TOptions transportOptions, ResolvedClientOptions clientOptions, ILogger logger)
            => Wrap(inner.CreateHandler(transportOptions, clientOptions, logger));

        public ResolvedTransport CreateHandler(ResolvedClientOptions clientOptions, ILogger logger)
            => Wrap(inner.CreateHandler(clientOptions, logger));

        public Task<WriteClosableStream> HijackStreamAsync(HttpContent content) => inner.HijackStreamAsync(content);

#pragma warning disable CA2000 // The handler goes to the Docker client, which disposes it (and the one it wraps) with itself.
        private ResolvedTransport Wrap(ResolvedTransport transport)
            => new(new VersionPrefixHandler(transport.Handler, state), transport.EffectiveEndpoint);
#pragma warning restore CA2000
    }

    private sealed class VersionPrefixHandler(HttpMessageHandler inner, ApiVersionState state) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            if (uri.AbsolutePath.StartsWith("/v1.", StringComparison.Ordinal) || uri.AbsolutePath == "/_ping")
                return await base.SendAsync(request, cancellationToken);

            var version = await state.GetOrNegotiateAsync(ct => ProbeAsync(uri, ct), cancellationToken);
            request.RequestUri = new UriBuilder(uri) { Path = $"/v{version.ToString(2)}{uri.AbsolutePath}" }.Uri;
            return await base.SendAsync(request, cancellationToken);
        }

        private async Task<Version> ProbeAsync(Uri sample, CancellationToken cancellationToken)
        {
            var root = new UriBuilder(sample) { Path = "/", Query = "" }.Uri;
            using (var ping = new HttpRequestMessage(HttpMethod.Get, new Uri(root, "_ping")))
            using (var response = await base.SendAsync(ping, cancellationToken))
            {
                if (response.Headers.TryGetValues("API-Version", out var values) && TryParse(values.FirstOrDefault(), out var fromPing))
                    return fromPing;
            }
            using var versionRequest = new HttpRequestMessage(HttpMethod.Get, new Uri(root, "version"));
            versionRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var versionResponse = await base.SendAsync(versionRequest, cancellationToken);
            versionResponse.EnsureSuccessStatusCode();
            using var json = System.Text.Json.JsonDocument.Parse(await versionResponse.Content.ReadAsStringAsync(cancellationToken));
            if (json.RootElement.TryGetProperty("ApiVersion", out var apiVersion) && TryParse(apiVersion.GetString(), out var fromVersion))
                return fromVersion;
            throw new HttpRequestException("The Docker engine did not say which API version it speaks.");
        }
    }

    internal static bool TryParse(string? text, out Version version)
    {
        version = new Version(0, 0);
        var parts = text?.Split('.');
        if (parts is not { Length: 2 }
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
            return false;
        version = new Version(major, minor);
        return true;
    }
}

/// <summary>
/// The negotiated version, shared by every request of one client. Only success is cached. Disposed by the runtime that
/// owns the client, after the client (its lock keeps two first requests from probing at once).
/// </summary>
internal sealed class ApiVersionState : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Version? _negotiated;

    public Version? Negotiated => _negotiated;

    public Version? ServerVersion { get; private set; }

    public void Dispose() => _gate.Dispose();

    public async Task<Version> GetOrNegotiateAsync(Func<CancellationToken, Task<Version>> probe, CancellationToken cancellationToken)
    {
        if (_negotiated is { } known)
            return known;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_negotiated is { } raced)
                return raced;
            var server = await probe(cancellationToken);
            ServerVersion = server;
            var chosen = server < NegotiatingDockerClient.ClientMaxApiVersion ? server : NegotiatingDockerClient.ClientMaxApiVersion;
            _negotiated = chosen;
            return chosen;
        }
        finally
        {
            _gate.Release();
        }
    }
}
