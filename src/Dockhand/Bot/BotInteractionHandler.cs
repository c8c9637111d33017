using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot;

/// <summary>A slash command's handler (one per command).</summary>
internal interface IBotCommand
{
    string Name { get; }

    Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken);
}

/// <summary>Handles the buttons whose custom_id starts with <c>dh:{Kind}:</c>.</summary>
internal interface IBotComponent
{
    string Kind { get; }

    Task HandleAsync(Interaction interaction, IInteractionResponder responder, string[] parts, CancellationToken cancellationToken);
}

/// <summary>Answers autocomplete for one command.</summary>
internal interface IBotAutocomplete
{
    string CommandName { get; }

    Task<IReadOnlyList<AutocompleteChoice>> SuggestAsync(Interaction interaction, CancellationToken cancellationToken);
}

/// <summary>
/// The bot's <see cref="IInteractionHandler"/>: routes slash commands, buttons and autocomplete to their handlers, and is
/// the exception boundary: whatever a handler throws is logged and the user sees one generic sentence (never a stack
/// trace or engine output).
/// </summary>
internal sealed class BotInteractionHandler(
    IEnumerable<IBotCommand> commands, IEnumerable<IBotComponent> components, IEnumerable<IBotAutocomplete> autocompletes,
    BotAuthorizer authorizer, BotReplies replies, ILogger<BotInteractionHandler> logger) : IInteractionHandler
{
    public const string CustomIdPrefix = "dh";

    private readonly Dictionary<string, IBotCommand> _commands = commands.ToDictionary(c => c.Name, StringComparer.Ordinal);
    private readonly Dictionary<string, IBotComponent> _components = components.ToDictionary(c => c.Kind, StringComparer.Ordinal);
    private readonly Dictionary<string, IBotAutocomplete> _autocompletes = autocompletes.ToDictionary(c => c.CommandName, StringComparer.Ordinal);

    public async Task HandleAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(interaction);
        ArgumentNullException.ThrowIfNull(responder);
        try
        {
            await RouteAsync(interaction, responder, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (responder.HasResponded && e is DiscordRestException or InteractionTokenExpiredException)
        {
            // Acknowledged, then a Discord call failed: the handlers' only Discord calls after the acknowledgement are
            // the result edits, so the work itself is done. A generic "something went wrong" would be false; say what happened.
            BotLog.ReplyFailedAfterWork(logger, interaction.Id, interaction.CommandName ?? interaction.CustomId?.Split(':').ElementAtOrDefault(1) ?? "?", e.Message);
        }
        catch (InteractionTokenExpiredException) when (!responder.HasResponded)
        {
            // Discord refused the first answer as too late: a generic reply would be refused too. The dispatcher says so.
            throw;
        }
        catch (Exception e)
        {
            BotLog.HandlerFailed(logger, e, interaction.Id, interaction.CommandName ?? interaction.CustomId?.Split(':').ElementAtOrDefault(1) ?? "?");
            await ReplyGenericAsync(interaction, responder, cancellationToken);
        }
    }

    private Task RouteAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        switch (interaction.Type)
        {
            case InteractionType.ApplicationCommand when interaction.CommandName is { } name && _commands.TryGetValue(name, out var command):
                return command.HandleAsync(interaction, responder, cancellationToken);
            case InteractionType.MessageComponent when interaction.CustomId?.Split(':') is [CustomIdPrefix, var kind, ..] parts && _components.TryGetValue(kind, out var component):
                return component.HandleAsync(interaction, responder, parts, cancellationToken);
            case InteractionType.Autocomplete:
                return AutocompleteAsync(interaction, responder, cancellationToken);
            default:
                BotLog.Unknown(logger, interaction.Type, interaction.CommandName ?? interaction.CustomId ?? "");
                return BotReplies.RefuseAsync(responder, BotMessages.UnknownCommand, cancellationToken);
        }
    }

    /// <summary>
    /// Suggestions only for users allowed to run the command (every autocompleted command is allowlist-only: /create);
    /// anyone else gets an empty list, so the engine's local image names are not revealed to them.
    /// </summary>
    private async Task AutocompleteAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        IReadOnlyList<AutocompleteChoice> choices = interaction.CommandName is { } name && _autocompletes.TryGetValue(name, out var source)
            && authorizer.ForAllowlistOnly(interaction.UserId, name) is Permission.Allowed
            ? await source.SuggestAsync(interaction, cancellationToken)
            : [];
        await responder.RespondAsync(InteractionResponse.Autocomplete(choices), cancellationToken);
    }

    private async Task ReplyGenericAsync(Interaction interaction, IInteractionResponder responder, CancellationToken cancellationToken)
    {
        try
        {
            if (!responder.HasResponded)
                await responder.RespondAsync(interaction.Type == InteractionType.Autocomplete
                    ? InteractionResponse.Autocomplete([])
                    : InteractionResponse.Message(BotMessages.Generic, ephemeral: true), cancellationToken);
            else if (interaction.Type == InteractionType.ApplicationCommand)
                await replies.EditAsync(interaction, responder, BotMessages.Generic, cancellationToken);
            else
                await responder.FollowUpAsync(DiscordMessage.Text(BotMessages.Generic, ephemeral: true), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            BotLog.ErrorReplyFailed(logger, e, interaction.Id);
        }
    }
}
