using System.Collections.Concurrent;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Interactions;

/// <summary>
/// Runs the <see cref="IInteractionHandler"/> for an interaction from either transport, in its own DI scope and on
/// its own task, so the transport is never blocked. Guarantees an initial response: when the handler returns or
/// throws without one, a short ephemeral error (or empty autocomplete choices) is sent. On shutdown the handlers see
/// ApplicationStopping, and <see cref="InteractionDrain"/> keeps the host up until they have finished (a create then
/// completes or rolls back instead of being cut off half-way when the process exits).
/// </summary>
internal sealed partial class InteractionDispatcher(
    IServiceScopeFactory scopes, DiscordApplicationIdSource applicationId, ILogger<InteractionDispatcher> logger, IHostApplicationLifetime? lifetime = null, DiscordMetrics? metrics = null)
{
    public const string FallbackMessage = "Something went wrong while handling this. Please try again in a moment.";

    private readonly ConcurrentDictionary<Task, bool> _inFlight = new();

    /// <summary>Starts handling; returns the task that ends when the handler (and any fallback) is done.</summary>
    public Task DispatchAsync(Interaction interaction, InteractionResponderBase responder)
    {
        applicationId.Remember(interaction.ApplicationId);
        var stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
        var handling = Task.Run(() => RunAsync(interaction, responder, stopping), CancellationToken.None);
        _inFlight[handling] = true;
        // RunAsync catches everything, so this continuation only forgets the finished task.
        handling.ContinueWith(done => _inFlight.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return handling;
    }

    /// <summary>Waits until every interaction dispatched so far has been handled, or <paramref name="cancellationToken"/> ends the wait.</summary>
    public Task WaitForInFlightAsync(CancellationToken cancellationToken = default)
    {
        var pending = _inFlight.Keys.ToArray();
        if (pending.Length == 0)
            return Task.CompletedTask;
        LogDraining(logger, pending.Length);
        return Task.WhenAll(pending).WaitAsync(cancellationToken);
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
        catch (InteractionTokenExpiredException) when (responder.MissedDeadline)
        {
            // Told below, once, without a stack trace: the handler did nothing wrong but take too long.
        }
        catch (Exception e)
        {
            LogHandlerFailed(logger, e, interaction.Id, interaction.CommandName ?? interaction.CustomId ?? "");
        }

        if (responder.HasResponded)
            return "answered";
        if (responder.MissedDeadline)
        {
            // A fallback would be refused as well, and each refusal counts toward Discord's invalid-request limit.
            LogMissedDeadline(logger, interaction.Id, interaction.CommandName ?? interaction.CustomId ?? "", interaction.CreatedAt);
            return "expired";
        }
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

    [LoggerMessage(EventId = 3126, Level = LogLevel.Warning, Message = "Interaction {InteractionId} ({Name}, sent at {SentAt:HH:mm:ss.fff}) was answered after Discord's 3 s; Discord refused the answer and showed the user \"This interaction failed\".")]
    private static partial void LogMissedDeadline(ILogger logger, ulong interactionId, string name, DateTimeOffset sentAt);

    [LoggerMessage(EventId = 3125, Level = LogLevel.Information, Message = "Stopping: waiting for {Count} interaction(s) still being handled.")]
    private static partial void LogDraining(ILogger logger, int count);
}

/// <summary>
/// Registered before the other hosted services, so it stops last: the host's StopAsync waits here (within its shutdown
/// timeout) until the interactions still being handled have finished or rolled back.
/// </summary>
internal sealed class InteractionDrain(InteractionDispatcher dispatcher) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await dispatcher.WaitForInFlightAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The shutdown timeout passed: what is still running is left to the reconciler's next pass.
        }
    }
}
