using System.Globalization;
using Dockhand.Discord.Rest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Commands;

/// <summary>Outcome of <see cref="CommandRegistrar.RegisterAsync"/>.</summary>
public enum CommandRegistrationOutcome
{
    /// <summary>Discord held other commands (or none) in this scope: bulk overwrite sent.</summary>
    Uploaded,
    /// <summary>Discord already held exactly these commands: nothing sent.</summary>
    Unchanged,
}

/// <summary>
/// Uploads command definitions with one bulk overwrite, globally or to DISCORD_GUILD_ID, only when the commands Discord
/// holds there differ (<see cref="CommandComparison"/>): Discord allows 200 command creates per day per guild, and
/// asking Discord, rather than remembering the last upload, makes a restart, a second process or another copy of the
/// bot on the same application cost one GET and no write.
/// </summary>
public sealed partial class CommandRegistrar(
    DiscordRestClient rest, DiscordApplicationIdSource applicationId, IOptions<DiscordOptions> options, ILogger<CommandRegistrar> logger)
{
    public async Task<CommandRegistrationOutcome> RegisterAsync(IReadOnlyList<SlashCommand> commands, CancellationToken cancellationToken = default)
    {
        CommandValidator.EnsureValid(commands);
        var appId = await applicationId.GetAsync(cancellationToken);
        var guildId = options.Value.GuildId;
        var scope = guildId is { } g ? string.Create(CultureInfo.InvariantCulture, $"guild {g}") : "global";
        var registered = await rest.GetCommandsAsync(appId, guildId, cancellationToken);
        if (CommandComparison.FindDifference(registered, commands, global: guildId is null) is not { } difference)
        {
            LogUpToDate(logger, commands.Count, scope);
            return CommandRegistrationOutcome.Unchanged;
        }
        await rest.BulkOverwriteCommandsAsync(appId, guildId, commands, cancellationToken);
        LogUploaded(logger, commands.Count, scope, difference);
        return CommandRegistrationOutcome.Uploaded;
    }

    [LoggerMessage(EventId = 3140, Level = LogLevel.Information, Message = "Uploaded {Count} slash commands ({Scope}): {Difference}.")]
    private static partial void LogUploaded(ILogger logger, int count, string scope, string difference);

    [LoggerMessage(EventId = 3141, Level = LogLevel.Information, Message = "Slash commands up to date; not uploaded ({Count}, {Scope}).")]
    private static partial void LogUpToDate(ILogger logger, int count, string scope);
}
