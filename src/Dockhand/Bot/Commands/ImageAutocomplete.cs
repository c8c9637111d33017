using Docker.DotNet;
using Docker.DotNet.Models;
using Dockhand.Containers;
using Dockhand.Discord.Interactions;
using Microsoft.Extensions.Logging;

namespace Dockhand.Bot.Commands;

/// <summary>
/// Suggestions for /create's image option: the allowlist when one is set, otherwise the engine's local images (cached
/// briefly), with DEFAULT_IMAGE first. Answers within Discord's 3 s even when the engine is slow (then from cache or
/// the default alone).
/// </summary>
internal sealed class ImageAutocomplete(ContainerService containers, IDockerClient docker, TimeProvider time, ILogger<ImageAutocomplete> logger) : IBotAutocomplete
{
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan EngineBudget = TimeSpan.FromSeconds(1.5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private IReadOnlyList<string> _cached = [];
    private DateTimeOffset _cachedAt = DateTimeOffset.MinValue;

    public string CommandName => BotCommands.Create;

    public async Task<IReadOnlyList<AutocompleteChoice>> SuggestAsync(Interaction interaction, CancellationToken cancellationToken)
    {
        var focused = interaction.FocusedOption;
        if (focused is null || focused.Name != BotCommands.ImageOption)
            return [];
        var partial = (focused.Value as string ?? "").Trim();
        var options = containers.Options;
        IEnumerable<string> candidates = options.ImageAllowlist.Count > 0
            ? options.ImageAllowlist
            : [options.DefaultImage, .. await LocalImagesAsync(cancellationToken)];
        return candidates
            .Where(i => i.Length <= DiscordLimits.ChoiceStringValueLength && i.Contains(partial, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(i => i == options.DefaultImage ? 0 : i.StartsWith(partial, StringComparison.OrdinalIgnoreCase) ? 1 : 2)
            .ThenBy(i => i, StringComparer.Ordinal)
            .Take(DiscordLimits.AutocompleteChoiceCount)
            .Select(i => AutocompleteChoice.String(i == options.DefaultImage ? $"{i} (default)" : i, i))
            .ToList();
    }

    private async Task<IReadOnlyList<string>> LocalImagesAsync(CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() - _cachedAt < CacheLifetime || !await _refresh.WaitAsync(EngineBudget, cancellationToken))
            return _cached;
        try
        {
            if (time.GetUtcNow() - _cachedAt < CacheLifetime)
                return _cached;
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            budget.CancelAfter(EngineBudget);
            var images = await docker.Images.ListImagesAsync(new ImagesListParameters(), budget.Token);
            _cached = images.SelectMany(i => i.RepoTags ?? []).Where(t => !t.StartsWith("<none>", StringComparison.Ordinal) && ImageReference.IsValid(t)).ToList();
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
