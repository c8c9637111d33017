using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Dockhand.Containers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Dockhand.Bot;

/// <summary>
/// Settings of the bot layer. <c>AUTHORIZED_USERS</c>: comma-separated Discord user ids (snowflakes) who may run every
/// command on anyone. Empty means nobody: owners can still manage their own containers. Bound from configuration
/// (<see cref="AuthorizedUsersSetting"/>, named with <see cref="ConfigurationKeyNameAttribute"/>)
/// and checked at start-up by the source-generated <see cref="BotOptionsValidator"/> (<c>ValidateOnStart</c>).
/// </summary>
public sealed class BotOptions : IValidatableObject
{
    public const string AuthorizedUsersKey = "AUTHORIZED_USERS";

    private string? _authorizedUsersProblem;

    /// <summary>How long the /destroy confirmation buttons stay valid.</summary>
    public TimeSpan DestroyConfirmationLifetime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Containers per /list page (one embed).</summary>
    public int ListPageSize { get; init; } = 10;

    /// <summary>Least time between two image-pull progress edits of a /create reply.</summary>
    public TimeSpan ProgressEditInterval { get; init; } = TimeSpan.FromSeconds(1);

    public IReadOnlySet<ulong> AuthorizedUsers { get; set; } = new HashSet<ulong>();

    /// <summary>The allowlist in configuration order (for "ask one of them").</summary>
    public IReadOnlyList<ulong> AuthorizedUsersInOrder { get; set; } = [];

    /// <summary>AUTHORIZED_USERS as given (a list, so parsed here); what was wrong with it is reported by <see cref="Validate"/>.</summary>
    [ConfigurationKeyName(AuthorizedUsersKey)]
    public string? AuthorizedUsersSetting
    {
        get => null;
        set
        {
            try
            {
                var ordered = ParseAuthorizedUsers(value);
                AuthorizedUsers = ordered.ToHashSet();
                AuthorizedUsersInOrder = ordered;
            }
            catch (InvalidSettingException e)
            {
                _authorizedUsersProblem = e.Message;
            }
        }
    }

    public bool IsAuthorized(ulong userId) => AuthorizedUsers.Contains(userId);

    /// <summary>
    /// Binds and checks as <c>ValidateOnStart</c> does, for code without the bot's services (doctor): a bad value throws
    /// <see cref="OptionsValidationException"/>, one line naming the key.
    /// </summary>
    internal static BotOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new BotOptions();
        configuration.Bind(options);
        var result = new BotOptionsValidator().Validate(Options.DefaultName, options);
        return result.Failed ? throw new OptionsValidationException(Options.DefaultName, typeof(BotOptions), result.Failures) : options;
    }

    /// <summary>The one line naming AUTHORIZED_USERS when it is not a list of snowflakes.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
        => _authorizedUsersProblem is { } problem ? [new ValidationResult(problem)] : [];

    /// <summary>Parses "123, 456"; throws <see cref="InvalidSettingException"/> on anything that is not a snowflake.</summary>
    public static List<ulong> ParseAuthorizedUsers(string? value)
    {
        var users = new List<ulong>();
        if (string.IsNullOrWhiteSpace(value))
            return users;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Length > 20 || !ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
                throw new InvalidSettingException(AuthorizedUsersKey,
                    $"'{(part.Length > 24 ? part[..24] + "…" : part)}' is not a Discord user id; list snowflakes (digits only) separated by commas.");
            if (!users.Contains(id))
                users.Add(id);
        }
        return users;
    }
}

/// <summary>Checks <see cref="BotOptions"/> at start-up (<c>ValidateOnStart</c>) through <see cref="BotOptions.Validate"/>.</summary>
[OptionsValidator]
internal sealed partial class BotOptionsValidator : IValidateOptions<BotOptions>;
