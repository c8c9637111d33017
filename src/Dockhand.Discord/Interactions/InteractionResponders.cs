using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Interactions;

/// <summary>Shared part of both responders: everything after the initial response goes over REST.</summary>
internal abstract class InteractionResponderBase(Interaction interaction, DiscordRestClient rest) : IInteractionResponder
{
    /// <summary>Discord's "Unknown interaction": sent for a first response that came after its 3 s.</summary>
    protected const int UnknownInteraction = 10062;

    private int _responded;
    private int _missed;

    protected Interaction Interaction { get; } = interaction;
    protected DiscordRestClient Rest { get; } = rest;

    public bool HasResponded => Volatile.Read(ref _responded) != 0;

    /// <summary>
    /// True once Discord refused the first response as too late (more than 3 s after the interaction): the user was
    /// shown "This interaction failed", and nothing can be sent on this interaction any more.
    /// </summary>
    public bool MissedDeadline => Volatile.Read(ref _missed) != 0;

    public async Task RespondAsync(InteractionResponse response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        CheckKind(response);
        // Another try would be refused the same way, and each refusal counts toward Discord's invalid-request limit.
        if (MissedDeadline)
            throw InteractionTokenExpiredException.FirstResponseTooLate(Interaction.Id, inner: null);
        if (Interlocked.Exchange(ref _responded, 1) != 0)
            throw new InvalidOperationException("This interaction has already been answered; edit @original or send a follow-up.");
        try
        {
            await SendInitialAsync(response, cancellationToken);
        }
        catch (DiscordRestException e) when (e.Code == UnknownInteraction)
        {
            Volatile.Write(ref _missed, 1);
            Volatile.Write(ref _responded, 0);
            throw InteractionTokenExpiredException.FirstResponseTooLate(Interaction.Id, e);
        }
        catch (InteractionTokenExpiredException)
        {
            // The transport's own way of saying the same (an HTTP response Discord stopped waiting for).
            Volatile.Write(ref _missed, 1);
            Volatile.Write(ref _responded, 0);
            throw;
        }
        catch
        {
            Volatile.Write(ref _responded, 0);
            throw;
        }
    }

    private void CheckKind(InteractionResponse response)
    {
        var ok = (response, Interaction.Type) switch
        {
            (AutocompleteResponse, InteractionType.Autocomplete) => true,
            (_, InteractionType.Autocomplete) => false,
            (AutocompleteResponse, _) => false,
            (UpdateMessageResponse or DeferredUpdateResponse, InteractionType.MessageComponent or InteractionType.ModalSubmit) => true,
            (UpdateMessageResponse or DeferredUpdateResponse, _) => false,
            _ => true,
        };
        if (!ok)
            throw new ArgumentException($"A {response.GetType().Name} cannot answer a {Interaction.Type} interaction.", nameof(response));
        // Validate and fit now, so that a bad response fails in the handler and not in the transport.
        _ = WireMapper.ToJson(response);
    }

    protected abstract Task SendInitialAsync(InteractionResponse response, CancellationToken cancellationToken);

    public Task<SentMessage> EditOriginalAsync(DiscordMessage message, CancellationToken cancellationToken = default) =>
        WebhookAsync(ct => Rest.EditOriginalResponseAsync(Interaction.ApplicationId, LiveToken(), message, ct), cancellationToken);

    public Task<SentMessage> GetOriginalAsync(CancellationToken cancellationToken = default) =>
        WebhookAsync(ct => Rest.GetOriginalResponseAsync(Interaction.ApplicationId, LiveToken(), ct), cancellationToken);

    public Task DeleteOriginalAsync(CancellationToken cancellationToken = default) =>
        WebhookAsync(async ct =>
        {
            await Rest.DeleteOriginalResponseAsync(Interaction.ApplicationId, LiveToken(), ct);
            return true;
        }, cancellationToken);

    public Task<SentMessage> FollowUpAsync(DiscordMessage message, CancellationToken cancellationToken = default) =>
        WebhookAsync(ct => Rest.CreateFollowUpAsync(Interaction.ApplicationId, LiveToken(), message, ct), cancellationToken);

    /// <summary>Runs a call on the interaction's webhook; the HTTP transport retries one that came too early.</summary>
    protected virtual Task<T> WebhookAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) => call(cancellationToken);

    /// <summary>
    /// The token, or <see cref="InteractionTokenExpiredException"/> once it has expired (less a margin for clock skew):
    /// a call with a dead token is a 401 that counts toward Discord's invalid-request ban and reaches nobody.
    /// </summary>
    private string LiveToken()
    {
        if (Rest.Time.GetUtcNow() >= Interaction.TokenExpiresAt - InteractionTokenExpiredException.SkewMargin)
            throw new InteractionTokenExpiredException(Interaction.Id);
        return Interaction.Token;
    }
}

/// <summary>
/// The interaction's token can no longer be used: its 15 minutes are over, so @original can no longer be edited and no
/// follow-up sent (nothing was sent to Discord; deliver a result another way, for example a channel message with the
/// bot token); or Discord refused the first response because it came more than 3 s after the interaction
/// (<see cref="FirstResponseTooLate"/>), and the token died with it.
/// </summary>
public sealed class InteractionTokenExpiredException : Exception
{
    /// <summary>Treated as expired this long before the 15 minutes, so that a skewed clock does not cost 401s.</summary>
    public static readonly TimeSpan SkewMargin = TimeSpan.FromSeconds(30);

    public InteractionTokenExpiredException(Snowflake interactionId)
        : base($"The token of interaction {interactionId} has expired (15 minutes after the interaction); it can no longer edit or follow up.") =>
        InteractionId = interactionId;

    private InteractionTokenExpiredException(Snowflake interactionId, string message, Exception? innerException)
        : base(message, innerException) =>
        InteractionId = interactionId;

    /// <summary>Discord answered the first response with "Unknown interaction": it came after the 3 s Discord allows.</summary>
    public static InteractionTokenExpiredException FirstResponseTooLate(Snowflake interactionId, Exception? inner) =>
        new(interactionId, $"Discord no longer knows interaction {interactionId}: its first response came more than 3 s after it was sent, and the user was shown \"This interaction failed\".", inner);

    public InteractionTokenExpiredException()
    {
    }

    public InteractionTokenExpiredException(string message)
        : base(message)
    {
    }

    public InteractionTokenExpiredException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public Snowflake InteractionId { get; }
}

/// <summary>
/// Gateway transport: the initial response is POSTed to the callback endpoint; once Discord accepted it (or refused it
/// as too late), the shared record of claims (when there is one) says so, and a replay of this interaction to another
/// process is skipped.
/// </summary>
internal sealed class RestInteractionResponder(Interaction interaction, DiscordRestClient rest, IInteractionClaims? claims = null) : InteractionResponderBase(interaction, rest)
{
    protected override async Task SendInitialAsync(InteractionResponse response, CancellationToken cancellationToken)
    {
        try
        {
            await Rest.CreateInteractionResponseAsync(Interaction.Id, Interaction.Token, response, cancellationToken);
        }
        catch (DiscordRestException e) when (e.Code == UnknownInteraction && claims is not null)
        {
            // Too late: Discord will take no answer for it, so a replay after a takeover must not try again either.
            await claims.MarkAnsweredAsync(Interaction.Id, CancellationToken.None);
            throw;
        }
        if (claims is not null)
            await claims.MarkAnsweredAsync(Interaction.Id, CancellationToken.None);
    }
}

/// <summary>
/// HTTP transport: the initial response becomes the HTTP response body. When the handler is too slow, the endpoint
/// answers for it with an automatic acknowledgement (<see cref="TryAutoAcknowledge"/>); the handler's late initial
/// response then becomes an edit of @original.
/// </summary>
internal sealed partial class HttpInteractionResponder(Interaction interaction, DiscordRestClient rest, ILogger logger) : InteractionResponderBase(interaction, rest)
{
    private readonly TaskCompletionSource<InteractionResponse> _initial = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private InteractionResponse? _autoAck;

    /// <summary>Completes with the initial response, for the endpoint to write.</summary>
    public Task<InteractionResponse> InitialResponse => _initial.Task;

    /// <summary>
    /// The acknowledgement the endpoint sends when the handler has not answered in time: "thinking…" (type 5, ephemeral,
    /// since a late reply may hold something private) for commands and modals, a deferred update (type 6) for
    /// components, and no choices for autocomplete (it cannot be deferred).
    /// </summary>
    private InteractionResponse AutoAcknowledgement => Interaction.Type switch
    {
        InteractionType.MessageComponent => InteractionResponse.DeferredUpdate(),
        InteractionType.Autocomplete => InteractionResponse.Autocomplete([]),
        _ => InteractionResponse.Deferred(ephemeral: true),
    };

    /// <summary>
    /// Makes the automatic acknowledgement the initial response. False when the handler answered first (then
    /// <see cref="InitialResponse"/> holds its response).
    /// </summary>
    public bool TryAutoAcknowledge()
    {
        var ack = AutoAcknowledgement;
        Volatile.Write(ref _autoAck, ack);
        if (_initial.TrySetResult(ack))
            return true;
        Volatile.Write(ref _autoAck, null);
        return false;
    }

    /// <summary>The endpoint has written the HTTP response, or failed to (<paramref name="failure"/>: Discord had stopped waiting).</summary>
    public void MarkWritten(Exception? failure = null)
    {
        if (failure is not null)
        {
            _written.TrySetException(failure);
            return;
        }
        Volatile.Write(ref _writtenAt, Rest.Time.GetTimestamp());
        _written.TrySetResult();
    }

    private long _writtenAt;

    /// <summary>Waits between retries of a webhook call answered "unknown" just after the HTTP response went out.</summary>
    private static readonly TimeSpan[] EarlyWebhookRetryDelays =
        [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)];

    /// <summary>
    /// Discord learns the initial response from our HTTP response, on another connection than the webhook call that
    /// follows it; the call can get there first and be answered 404 (10015 Unknown Webhook, or 10008 Unknown Message).
    /// Within a second of writing the response, such a 404 is retried briefly.
    /// </summary>
    protected override async Task<T> WebhookAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call(cancellationToken);
            }
            catch (DiscordRestException e) when (e.Status == System.Net.HttpStatusCode.NotFound && e.Code is 10015 or 10008
                && attempt < EarlyWebhookRetryDelays.Length && Volatile.Read(ref _writtenAt) is var written && written != 0
                && Rest.Time.GetElapsedTime(written) < TimeSpan.FromSeconds(1))
            {
                LogEarlyWebhookRetry(logger, Interaction.Id);
                await Task.Delay(EarlyWebhookRetryDelays[attempt], Rest.Time, cancellationToken);
            }
        }
    }

    [LoggerMessage(EventId = 3156, Level = LogLevel.Debug, Message = "Interaction {InteractionId}: a webhook call reached Discord before our HTTP response did (404); retrying.")]
    private static partial void LogEarlyWebhookRetry(ILogger logger, ulong interactionId);

    protected override async Task SendInitialAsync(InteractionResponse response, CancellationToken cancellationToken)
    {
        var mine = _initial.TrySetResult(response);
        // Returns once the HTTP body is on its way (bounded, in case the endpoint never writes it), so the next call
        // (typically an @original edit) cannot overtake it.
        try
        {
            await _written.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException || _written.Task.IsFaulted)
        {
            // Discord waits 3 s for the HTTP response: one that could not be written, or was not written within 5 s,
            // never reached it, and the user was shown "This interaction failed". Whoever waits for this response
            // (a create's go-ahead) must hear so, not go on as if it had been taken.
            throw InteractionTokenExpiredException.FirstResponseTooLate(Interaction.Id, e);
        }
        if (mine)
            return;
        if (Volatile.Read(ref _autoAck) is not { } ack)
            throw new InvalidOperationException("This interaction has already been answered; edit @original or send a follow-up.");
        // The endpoint acknowledged for us: what the handler meant as the first response now edits @original.
        switch (response)
        {
            case MessageResponse message:
                LogLateReplyAsEdit(logger, Interaction.Id, ack.CallbackType);
                await EditOriginalAsync(message.Body, cancellationToken);
                break;
            case UpdateMessageResponse update:
                LogLateReplyAsEdit(logger, Interaction.Id, ack.CallbackType);
                await EditOriginalAsync(update.Body, cancellationToken);
                break;
            case AutocompleteResponse:
                LogLateAutocompleteDropped(logger, Interaction.Id);
                break;
            default:
                break; // a late deferral: already deferred
        }
    }

    [LoggerMessage(EventId = 3154, Level = LogLevel.Information, Message = "Interaction {InteractionId}: the handler answered after the endpoint had acknowledged it (type {AckType}); its reply was sent as an edit of @original.")]
    private static partial void LogLateReplyAsEdit(ILogger logger, ulong interactionId, InteractionCallbackType ackType);

    [LoggerMessage(EventId = 3155, Level = LogLevel.Warning, Message = "Interaction {InteractionId}: autocomplete choices came too late and were dropped; Discord showed none.")]
    private static partial void LogLateAutocompleteDropped(ILogger logger, ulong interactionId);
}
