using Dockhand.Discord.Commands;

namespace Dockhand.Bot;

/// <summary>The slash command definitions Dockhand registers at start-up (data only; uploaded when they change).</summary>
public static class BotCommands
{
    public const string Create = "create";
    public const string Destroy = "destroy";
    public const string List = "list";
    public const string Status = "status";
    public const string Terminal = "terminal";
    public const string Start = "start";
    public const string Stop = "stop";
    public const string Restart = "restart";

    public const string UserOption = "user";
    public const string NameOption = "container_name";
    public const string PurgeOption = "purge";
    public const string ImageOption = "image";

    /// <summary>Contexts: guilds (0) and the bot's DMs (1).</summary>
    private static readonly int[] GuildAndDm = [0, 1];

    public static IReadOnlyList<SlashCommand> All { get; } =
    [
        new SlashCommand(Create, "Create a container for a user (allowlisted users only).",
            CommandOption.User(UserOption, "Who the container is for.", required: true),
            CommandOption.String(NameOption, "The container's name: letters, digits, '_', '.' or '-'.", required: true) with { MinLength = 1, MaxLength = 63 },
            CommandOption.String(ImageOption, "The image; defaults to the server's DEFAULT_IMAGE.") with { Autocomplete = true, MaxLength = 255 })
        { Contexts = GuildAndDm },
        new SlashCommand(Destroy, "Destroy a user's container, after a confirmation (allowlisted users only).",
            CommandOption.User(UserOption, "Whose container to destroy (pick them, or paste their id).", required: true),
            CommandOption.Boolean(PurgeOption, "Also delete their home volume and every file in it (kept by default)."))
        { Contexts = GuildAndDm },
        new SlashCommand(List, "List every container Dockhand manages (allowlisted users only).") { Contexts = GuildAndDm },
        new SlashCommand(Status, "Show a container's state, start time, CPU and memory.",
            CommandOption.User(UserOption, "Whose container; defaults to yours."))
        { Contexts = GuildAndDm },
        new SlashCommand(Terminal, "Get a one-time link to a browser terminal in your container.") { Contexts = GuildAndDm },
        new SlashCommand(Start, "Start a stopped container.",
            CommandOption.User(UserOption, "Whose container (yours, unless you are on the allowlist).", required: true))
        { Contexts = GuildAndDm },
        new SlashCommand(Stop, "Stop a running container; its files are kept.",
            CommandOption.User(UserOption, "Whose container (yours, unless you are on the allowlist).", required: true))
        { Contexts = GuildAndDm },
        new SlashCommand(Restart, "Restart a container.",
            CommandOption.User(UserOption, "Whose container (yours, unless you are on the allowlist).", required: true))
        { Contexts = GuildAndDm },
    ];
}
