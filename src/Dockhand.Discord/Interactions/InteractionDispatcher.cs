using Dockhand.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Interactions;

/// <summary>
/// Runs the <see cref="IInteractionHandler"/> for an interaction from either transport, in its own DI scope and on
/// its own task, so the transport is never blocked. Guarantees an initial response: when the handler returns or
/// throws without one, a short ephemeral error (or empty autocomplete choices) is sent.
/// </summary>
internal sealed partial class InteractionDispatcher(
    IServiceScopeFactory scopes, DiscordApplicationIdSource applicationId, ILogger<InteractionDispatcher> logger, IHostApplicationLifetime? lifetime = null, DiscordMetrics? metrics = null)
{
    public const string FallbackMessage = "Something went wrong while handling this. Please try again in a moment.";

    /// <summary>Starts handling; returns the task that ends when the handler (and any fallback) is done.</summary>
    public Task DispatchAsync(Interaction interaction, InteractionResponderBase responder)
    {
        applicationId.Remember(interaction.ApplicationId);
        var stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
        return Task.Run(() => RunAsync(interaction, responder, stopping), CancellationToken.None);
    }

    private async Task RunAsync(Interaction interaction, InteractionResponderBase responder, CancellationToken cancellationToken)
    {
        var outcome = await HandleAsync(interaction, responder, cancellationToken);
        metrics?.Interaction(responder is HttpInteractionResponder ? "http" : "gateway", interaction.Type, outcome);
    }

    /// <summary>Runs the handler and, when it gave no initial response, the fallback. Returns the outcome's metric label.</summary>
    private async Task<string> HandleAsync(Interaction interaction, InteractionResponderBase responder, CancellationToken cancellationToken)
    {
        LogDispatching(logger, interaction.Id, interaction.Type, interaction.CommandName ?? interaction.CustomId ?? "");
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var handler = scope.ServiceProvider.GetService<IInteractionHandler>();
            if (handler is null)
                LogNoHandler(logger);
            else
                await handler.HandleAsync(interaction, responder, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return "cancelled";
        }
        catch (Exception e)
        {
            LogHandlerFailed(logger, e, interaction.Id, interaction.CommandName ?? interaction.CustomId ?? "");
        }

        if (responder.HasResponded)
            return "answered";
        try
        {
            LogFallback(logger, interaction.Id);
            await responder.RespondAsync(interaction.Type == InteractionType.Autocomplete
                ? InteractionResponse.Autocomplete([])
                : InteractionResponse.Message(FallbackMessage, ephemeral: true), cancellationToken);
            return "fallback";
        }
        catch (Exception e)
        {
            LogFallbackFailed(logger, e, interaction.Id);
            return "failed";
        }
    }

    [LoggerMessage(EventId = 3120, Level = LogLevel.Debug, Message = "Interaction {InteractionId} ({Type}, {Name}) dispatched.")]
    private static partial void LogDispatching(ILogger logger, ulong interactionId, InteractionType type, string name);

    [LoggerMessage(EventId = 3121, Level = LogLevel.Error, Message = "The interaction handler failed on {InteractionId} ({Name}).")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, ulong interactionId, string name);

    [LoggerMessage(EventId = 3122, Level = LogLevel.Warning, Message = "No initial response to interaction {InteractionId}; sending the fallback reply.")]
    private static partial void LogFallback(ILogger logger, ulong interactionId);

    [LoggerMessage(EventId = 3123, Level = LogLevel.Warning, Message = "The fallback reply to interaction {InteractionId} failed.")]
    private static partial void LogFallbackFailed(ILogger logger, Exception exception, ulong interactionId);

    [LoggerMessage(EventId = 3124, Level = LogLevel.Error, Message = "No IInteractionHandler is registered; interactions get the fallback reply.")]
    private static partial void LogNoHandler(ILogger logger);
}
