using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Commands;

/// <summary>Where the hash of the last uploaded definitions is kept, per scope ("global" or "guild:{id}", with the app id).</summary>
public interface ICommandHashStore
{
    Task<string?> GetAsync(string scope, CancellationToken cancellationToken = default);
    Task SetAsync(string scope, string hash, CancellationToken cancellationToken = default);
}

/// <summary>Outcome of <see cref="CommandRegistrar.RegisterAsync"/>.</summary>
public enum CommandRegistrationOutcome
{
    /// <summary>The definitions changed (or were never uploaded to this scope): bulk overwrite sent.</summary>
    Uploaded,
    /// <summary>Same hash as the last upload to this scope: nothing sent.</summary>
    Unchanged,
}

/// <summary>
/// Uploads command definitions with one bulk overwrite, globally or to DISCORD_GUILD_ID, only when their hash changed
/// (Discord allows 200 creates per day per guild).
/// </summary>
public sealed partial class CommandRegistrar(
    DiscordRestClient rest, ICommandHashStore store, DiscordApplicationIdSource applicationId, IOptions<DiscordOptions> options, ILogger<CommandRegistrar> logger)
{
    public async Task<CommandRegistrationOutcome> RegisterAsync(IReadOnlyList<SlashCommand> commands, CancellationToken cancellationToken = default)
    {
        CommandValidator.EnsureValid(commands);
        var appId = await applicationId.GetAsync(cancellationToken);
        var guildId = options.Value.GuildId;
        var scope = guildId is { } g
            ? string.Create(CultureInfo.InvariantCulture, $"app:{appId}:guild:{g}")
            : string.Create(CultureInfo.InvariantCulture, $"app:{appId}:global");
        var hash = Convert.ToHexStringLower(SHA256.HashData(CommandWire.Serialize(commands, global: guildId is null)));
        if (string.Equals(await store.GetAsync(scope, cancellationToken), hash, StringComparison.Ordinal))
        {
            LogUnchanged(logger, commands.Count, scope);
            return CommandRegistrationOutcome.Unchanged;
        }
        await rest.BulkOverwriteCommandsAsync(appId, guildId, commands, cancellationToken);
        await store.SetAsync(scope, hash, cancellationToken);
        LogUploaded(logger, commands.Count, scope);
        return CommandRegistrationOutcome.Uploaded;
    }

    [LoggerMessage(EventId = 3140, Level = LogLevel.Information, Message = "Uploaded {Count} command definitions ({Scope}).")]
    private static partial void LogUploaded(ILogger logger, int count, string scope);

    [LoggerMessage(EventId = 3141, Level = LogLevel.Information, Message = "{Count} command definitions unchanged ({Scope}); nothing uploaded.")]
    private static partial void LogUnchanged(ILogger logger, int count, string scope);
}

/// <summary>
/// Keeps hashes in a small JSON file (the host puts it next to its database: "{DATABASE_PATH}.discord-commands.json").
/// Disposable for its lock, which keeps a read from seeing a half-written file; the container that made it disposes it.
/// </summary>
public sealed class FileCommandHashStore(string path) : ICommandHashStore, IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    public string Path { get; } = path;

    public void Dispose() => _lock.Dispose();

    public async Task<string?> GetAsync(string scope, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            return (await ReadAsync(cancellationToken)).GetValueOrDefault(scope);
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task SetAsync(string scope, string hash, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            var map = await ReadAsync(cancellationToken);
            map[scope] = hash;
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
            var temp = Path + ".tmp";
            await File.WriteAllBytesAsync(temp, JsonSerializer.SerializeToUtf8Bytes(map, HashStoreJsonContext.Default.DictionaryStringString), cancellationToken);
            File.Move(temp, Path, overwrite: true);
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<Dictionary<string, string>> ReadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path))
            return [];
        try
        {
            var bytes = await File.ReadAllBytesAsync(Path, cancellationToken);
            return JsonSerializer.Deserialize(bytes, HashStoreJsonContext.Default.DictionaryStringString) ?? [];
        }
        catch (JsonException)
        {
            return []; // a damaged file only costs one upload
        }
    }
}

[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class HashStoreJsonContext : JsonSerializerContext;
