namespace Dockhand.Discord.Interactions;

/// <summary>
/// Handles every interaction, whichever transport (gateway or HTTP endpoint) delivered it. Register one implementation
/// in DI. Discord requires the initial response within 3 seconds: call
/// <see cref="IInteractionResponder.RespondAsync"/> promptly, and when the work may take longer, respond with
/// <see cref="InteractionResponse.Deferred"/> (or <see cref="InteractionResponse.DeferredUpdate"/>) first and then
/// <see cref="IInteractionResponder.EditOriginalAsync"/>. Nothing defers for you: a handler that takes more than 3 s
/// before its first response lets the interaction fail in the user's client.
/// The handler may keep working after the initial response (the HTTP request has then already been answered);
/// <paramref name="cancellationToken"/> is cancelled at host shutdown, not when the HTTP request ends.
/// If the handler returns or throws without responding, Dockhand sends a short ephemeral error (or empty choices).
/// </summary>
public interface IInteractionHandler
{
    Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken);
}

/// <summary>Replies to one interaction. Transport-specific for the initial response, REST for the rest.</summary>
public interface IInteractionResponder
{
    /// <summary>True once the initial response has been given.</summary>
    bool HasResponded { get; }

    /// <summary>
    /// The initial response (once). Over HTTP it becomes the body of the HTTP response; over the gateway it is POSTed
    /// to the callback endpoint. Throws <see cref="InvalidOperationException"/> when called twice.
    /// </summary>
    Task RespondAsync(InteractionResponse response, CancellationToken cancellationToken = default);

    /// <summary>PATCH @original (the initial response message, or the deferred placeholder).</summary>
    Task<SentMessage> EditOriginalAsync(DiscordMessage message, CancellationToken cancellationToken = default);

    /// <summary>GET @original.</summary>
    Task<SentMessage> GetOriginalAsync(CancellationToken cancellationToken = default);

    /// <summary>DELETE @original.</summary>
    Task DeleteOriginalAsync(CancellationToken cancellationToken = default);

    /// <summary>POST a follow-up message (allowed after the initial response).</summary>
    Task<SentMessage> FollowUpAsync(DiscordMessage message, CancellationToken cancellationToken = default);
}
