using System.Text.Json;

namespace Dockhand.Discord.Gateway;

/// <summary>Receives gateway dispatch events (op 0) in order. The gateway client calls it for every event it does not handle itself.</summary>
public interface IGatewayDispatchHandler
{
    /// <param name="eventName">The dispatch's <c>t</c>, e.g. INTERACTION_CREATE.</param>
    /// <param name="data">The dispatch's <c>d</c>. Valid only for the duration of the call; clone to keep it.</param>
    ValueTask HandleDispatchAsync(string eventName, JsonElement data, CancellationToken cancellationToken);
}
