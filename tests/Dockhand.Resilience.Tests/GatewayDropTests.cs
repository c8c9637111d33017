using System.Collections.Concurrent;
using System.Globalization;
using Dockhand.Discord;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Testing.Gateway;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dockhand.Resilience.Tests;

/// <summary>
/// Drop the gateway's TCP connection abruptly (no close frame), again and again, while interactions stream in.
/// The client must resume and the server replay what was missed: every interaction handled once, every one answered.
/// </summary>
[Trait("Category", "Resilience")]
public sealed class GatewayDropTests
{
    private const string Token = "resilience-bot-token";

    [Fact]
    public async Task InteractionStream_ConnectionDroppedRepeatedly_NoInteractionLostAfterResume()
    {
        var ct = TestContext.Current.CancellationToken;
        const int interactions = 150;
        const int dropEvery = 25;
        await using var rest = await LoopbackDiscordRestServer.StartAsync(Token, cancellationToken: ct);
        await using var gateway = new LoopbackDiscordGateway(new LoopbackDiscordGatewayOptions
        {
            Token = Token,
            ApplicationId = rest.ApplicationId.ToString(CultureInfo.InvariantCulture),
        });
        await gateway.StartAsync(ct);
        var handler = new CountingHandler();

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [DiscordConfiguration.TokenKey] = Token,
            [DiscordConfiguration.ApiBaseUrlKey] = rest.ApiBaseUrl.ToString(),
            [DiscordConfiguration.GatewayUrlKey] = gateway.Url.ToString(),
            [DiscordConfiguration.ApplicationIdKey] = rest.ApplicationId.ToString(CultureInfo.InvariantCulture),
            ["DATABASE_PATH"] = Path.Combine(Path.GetTempPath(), $"dockhand-resilience-gw-{Guid.NewGuid():N}.db"),
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddDockhandDiscord(builder.Configuration);
        builder.Services.AddDockhandDiscordGateway();
        builder.Services.AddSingleton<IInteractionHandler>(handler);
        using var host = builder.Build();
        await host.StartAsync(ct);
        try
        {
            // Stream only once the session is READY on both sides (events before it belong to no session).
            var client = host.Services.GetRequiredService<Dockhand.Discord.Gateway.DiscordGatewayClient>();
            await gateway.WaitUntilAsync(g => g.CurrentSessionId is not null && client.SessionId == g.CurrentSessionId, TimeSpan.FromSeconds(30), ct);
            var ids = new List<ulong>();
            var seqs = new Dictionary<ulong, (int Index, long Seq)>();
            var dropAfter = new List<long>();
            var drops = 0;
            for (var i = 0; i < interactions; i++)
            {
                var payload = InteractionPayloads.SlashCommand(rest.ApplicationId, $"resilience-token-{i}", 1_250_000_000_000_000_001, "ping");
                ids.Add(ulong.Parse(payload["id"]!.GetValue<string>(), CultureInfo.InvariantCulture));
                var seq = await gateway.DispatchAsync("INTERACTION_CREATE", payload.ToJsonString(), ct);
                seqs[ids[^1]] = (i, seq);
                if (i % dropEvery == dropEvery - 1)
                {
                    // Each drop must find a connection: on a busy machine the client may still be reconnecting from
                    // the last one 25 dispatches later (a drop then finds nothing to drop, and one Resume is "missing").
                    await gateway.WaitUntilAsync(g => g.ReceivedOp(6).Count >= drops, TimeSpan.FromSeconds(60), ct);
                    dropAfter.Add(seq);
                    await gateway.DropConnectionsAsync(ct);
                    drops++;
                }
                await Task.Delay(5, ct);
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (DateTime.UtcNow < deadline && (ids.Any(id => !handler.Seen.ContainsKey(id)) || ids.Any(id => rest.GetCallback(id) is null)))
                await Task.Delay(50, ct);

            var lost = ids.Where(id => !handler.Seen.ContainsKey(id)).ToList();
            var unanswered = ids.Where(id => rest.GetCallback(id) is null).ToList();
            var duplicated = handler.Seen.Where(s => s.Value > 1).Select(s => s.Key).ToList();
            TestContext.Current.TestOutputHelper?.WriteLine($"{interactions} interactions, {drops} drops, {gateway.ReceivedOp(6).Count} resumes, {gateway.ReceivedOp(2).Count} identifies, "
                + $"{lost.Count} lost, {unanswered.Count} unanswered, {duplicated.Count} handled twice");
            TestContext.Current.TestOutputHelper?.WriteLine($"drops after seq {string.Join(",", dropAfter)}; lost seqs {string.Join(",", lost.Select(id => seqs[id].Seq))}");
            Assert.True(lost.Count == 0, $"{lost.Count} of {interactions} interactions never reached the handler");
            Assert.True(unanswered.Count == 0, $"{unanswered.Count} interactions got no callback");
            Assert.True(duplicated.Count == 0, $"{duplicated.Count} interactions were handled twice");
            Assert.True(gateway.ReceivedOp(6).Count >= drops, $"expected a Resume per drop ({drops}), saw {gateway.ReceivedOp(6).Count}");
            Assert.Single(gateway.ReceivedOp(2)); // never a fresh session: every drop was resumed
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private sealed class CountingHandler : IInteractionHandler
    {
        public ConcurrentDictionary<ulong, int> Seen { get; } = new();

        public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
        {
            Seen.AddOrUpdate(interaction.Id, 1, (_, n) => n + 1);
            await responder.RespondAsync(InteractionResponse.Message("pong", ephemeral: true), cancellationToken);
        }
    }
}
