using System.Text.Json;
using Dockhand.Discord.Gateway;
using Dockhand.Discord.JsonModels;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Interactions;

/// <summary>
/// Receives gateway dispatches: INTERACTION_CREATE is parsed and handed to the same handler as the HTTP endpoint, with a responder that POSTs the callback. Never blocks the gateway's receive loop.
/// </summary>
internal sealed partial class GatewayInteractionBridge(
    InteractionDispatcher dispatcher, InteractionReplayGuard replays, DiscordRestClient rest,
    ILogger<GatewayInteractionBridge> logger)
    : IGatewayDispatchHandler
{
    public ValueTask HandleDispatchAsync(string eventName, JsonElement data, CancellationToken cancellationToken)
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
                    if (!replays.TryTake(interaction.Id))
                    {
                        LogRepeat(logger, interaction.Id);
                        break;
                    }
                    _ = dispatcher.DispatchAsync(interaction, new RestInteractionResponder(interaction, rest));
                    break;
            }
        }
        catch (JsonException)
        {
            LogUnreadable(logger);
        }
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 3131, Level = LogLevel.Warning, Message = "Interaction {InteractionId} arrived again over the gateway; not handled twice.")]
    private static partial void LogRepeat(ILogger logger, ulong interactionId);

    [LoggerMessage(EventId = 3130, Level = LogLevel.Warning, Message = "Ignored an unreadable gateway INTERACTION_CREATE.")]
    private static partial void LogUnreadable(ILogger logger);
}
