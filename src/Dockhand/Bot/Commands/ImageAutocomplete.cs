using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>
/// Suggestions for /create's image option: <see cref="ContainerService.ListSelectableImagesAsync"/> (the allowlist when
/// one is set, otherwise the engine's local images; DEFAULT_IMAGE first), cached briefly. Answers within Discord's 3 s
/// even when the engine is slow (then from cache or the default alone).
/// </summary>
internal sealed class ImageAutocomplete(ContainerService containers, TimeProvider time, ILogger<ImageAutocomplete> logger) : IBotAutocomplete, IDisposable
{
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan EngineBudget = TimeSpan.FromSeconds(1.5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private IReadOnlyList<string> _cached = [];
    private DateTimeOffset _cachedAt = DateTimeOffset.MinValue;

    public string CommandName => BotCommands.Create;

    /// <summary>Frees the lock that keeps two refreshes from asking the engine at once; the container that made it calls it.</summary>
    public void Dispose() => _refresh.Dispose();

    public async Task<IReadOnlyList<AutocompleteChoice>> SuggestAsync(Interaction interaction, CancellationToken cancellationToken)
    {
        var focused = interaction.FocusedOption;
        if (focused is null || focused.Name != BotCommands.ImageOption)
            return [];
        var partial = (focused.Value as string ?? "").Trim();
        var defaultImage = containers.Options.DefaultImage;
        IEnumerable<string> candidates = [defaultImage, .. await SelectableImagesAsync(cancellationToken)];
        return candidates
            .Where(i => i.Length <= DiscordLimits.ChoiceStringValueLength && i.Contains(partial, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(i => i == defaultImage ? 0 : i.StartsWith(partial, StringComparison.OrdinalIgnoreCase) ? 1 : 2)
            .ThenBy(i => i, StringComparer.Ordinal)
            .Take(DiscordLimits.AutocompleteChoiceCount)
            .Select(i => AutocompleteChoice.String(i == defaultImage ? $"{i} (default)" : i, i))
            .ToList();
    }

    private async Task<IReadOnlyList<string>> SelectableImagesAsync(CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() - _cachedAt < CacheLifetime || !await _refresh.WaitAsync(EngineBudget, cancellationToken))
            return _cached;
        try
        {
            if (time.GetUtcNow() - _cachedAt < CacheLifetime)
                return _cached;
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            budget.CancelAfter(EngineBudget);
            _cached = await containers.ListSelectableImagesAsync(budget.Token);
            _cachedAt = time.GetUtcNow();
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            BotLog.ImageListFailed(logger, e);
        }
        finally
        {
            _refresh.Release();
        }
        return _cached;
    }
}
