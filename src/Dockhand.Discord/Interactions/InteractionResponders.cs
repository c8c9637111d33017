using Dockhand.Discord.Rest;

namespace Dockhand.Discord.Interactions;

/// <summary>Shared part of both responders: everything after the initial response goes over REST.</summary>
internal abstract class InteractionResponderBase(Interaction interaction, DiscordRestClient rest) : IInteractionResponder
{
    private int _responded;

    protected Interaction Interaction { get; } = interaction;
    protected DiscordRestClient Rest { get; } = rest;

    public bool HasResponded => Volatile.Read(ref _responded) != 0;

    public async Task RespondAsync(InteractionResponse response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        CheckKind(response);
        if (Interlocked.Exchange(ref _responded, 1) != 0)
            throw new InvalidOperationException("This interaction has already been answered; edit @original or send a follow-up.");
        try
        {
            await SendInitialAsync(response, cancellationToken);
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
        Rest.EditOriginalResponseAsync(Interaction.ApplicationId, Interaction.Token, message, cancellationToken);

    public Task<SentMessage> GetOriginalAsync(CancellationToken cancellationToken = default) =>
        Rest.GetOriginalResponseAsync(Interaction.ApplicationId, Interaction.Token, cancellationToken);

    public Task DeleteOriginalAsync(CancellationToken cancellationToken = default) =>
        Rest.DeleteOriginalResponseAsync(Interaction.ApplicationId, Interaction.Token, cancellationToken);

    public Task<SentMessage> FollowUpAsync(DiscordMessage message, CancellationToken cancellationToken = default) =>
        Rest.CreateFollowUpAsync(Interaction.ApplicationId, Interaction.Token, message, cancellationToken);
}

/// <summary>Gateway transport: the initial response is POSTed to the callback endpoint.</summary>
internal sealed class RestInteractionResponder(Interaction interaction, DiscordRestClient rest) : InteractionResponderBase(interaction, rest)
{
    protected override Task SendInitialAsync(InteractionResponse response, CancellationToken cancellationToken) =>
        Rest.CreateInteractionResponseAsync(Interaction.Id, Interaction.Token, response, cancellationToken);
}

/// <summary>
/// HTTP transport: the initial response becomes the HTTP response body. If the endpoint has stopped waiting
/// (the request ended), it falls back to the REST callback.
/// </summary>
internal sealed class HttpInteractionResponder(Interaction interaction, DiscordRestClient rest) : InteractionResponderBase(interaction, rest)
{
    private readonly TaskCompletionSource<InteractionResponse> _initial = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the initial response, for the endpoint to write.</summary>
    public Task<InteractionResponse> InitialResponse => _initial.Task;

    /// <summary>
    /// The endpoint stops waiting; later initial responses go over REST. False when a response arrived first
    /// (then <see cref="InitialResponse"/> holds it).
    /// </summary>
    public bool TryAbandon() => _initial.TrySetCanceled();

    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The endpoint has written (or failed to write) the HTTP response.</summary>
    public void MarkWritten() => _written.TrySetResult();

    protected override async Task SendInitialAsync(InteractionResponse response, CancellationToken cancellationToken)
    {
        if (_initial.TrySetResult(response))
        {
            // Returns once the HTTP body is on its way (bounded, in case the endpoint never writes it).
            try
            {
                await _written.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (TimeoutException)
            {
                // The endpoint is gone; nothing more to wait for.
            }
            return;
        }
        await Rest.CreateInteractionResponseAsync(Interaction.Id, Interaction.Token, response, cancellationToken);
    }
}
