using System.Text.Json;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.JsonModels;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Interactions;

/// <summary>
/// Receives gateway dispatches: INTERACTION_CREATE is parsed and handed to the same handler as the HTTP endpoint, with a responder that POSTs the callback. Never blocks the gateway's receive loop.
/// With <see cref="IInteractionClaims"/> registered (several processes share the gateway session), an interaction is
/// handled only once it is claimed in that shared record, before the next dispatch is read: a dispatch replayed after a
/// takeover that the last holder answered is skipped, one it took but never answered is handled.
/// </summary>
internal sealed partial class GatewayInteractionBridge(
    InteractionDispatcher dispatcher, InteractionReplayGuard replays, DiscordRestClient rest,
    ILogger<GatewayInteractionBridge> logger, IInteractionClaims? claims = null)
    : IGatewayDispatchHandler
{
    public async ValueTask HandleDispatchAsync(string eventName, JsonElement data, CancellationToken cancellationToken)
    {
        try
        {
            switch (eventName)
            {
                case "INTERACTION_CREATE":
                    var interaction = WireMapper.Parse(data.Deserialize(DiscordJsonContext.Default.JsonInteraction));
                    if (interaction is null || interaction.Type == InteractionType.Ping)
                    {
                        LogUnreadable(logger);
                        break;
                    }
                    if (!replays.TryTake(interaction.Id) || (claims is not null && !await claims.TryClaimAsync(interaction.Id, cancellationToken)))
                    {
                        LogRepeat(logger, interaction.Id);
                        break;
                    }
                    _ = dispatcher.DispatchAsync(interaction, new RestInteractionResponder(interaction, rest, claims));
                    break;
            }
        }
        catch (JsonException)
        {
            LogUnreadable(logger);
        }
    }

    [LoggerMessage(EventId = 3131, Level = LogLevel.Warning, Message = "Interaction {InteractionId} arrived again over the gateway; not handled twice.")]
    private static partial void LogRepeat(ILogger logger, ulong interactionId);

    [LoggerMessage(EventId = 3130, Level = LogLevel.Warning, Message = "Ignored an unreadable gateway INTERACTION_CREATE.")]
    private static partial void LogUnreadable(ILogger logger);
}
