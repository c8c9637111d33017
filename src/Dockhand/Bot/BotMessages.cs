using System.Globalization;
using Dockhand.Containers;
using Dockhand.Discord.Interactions;

namespace Dockhand.Bot;

/// <summary>Every sentence and embed the bot shows. Errors are one friendly sentence; nothing raw from the engine.</summary>
internal static class BotMessages
{
    public const string Generic = "Something went wrong on Dockhand's side. Please try again in a moment.";
    public const string EngineSlow = "The Docker engine is slow to answer right now. Please try again in a moment.";
    public const string UnknownCommand = "Dockhand doesn't know that command any more. Reload Discord to refresh the command list.";

    public const int Green = 0x2ECC71;
    public const int Amber = 0xF1C40F;
    public const int Red = 0xE74C3C;
    public const int Grey = 0x95A5A6;

    public static string Mention(OwnerId owner) => "<@" + owner + ">";

    public static string Mention(ulong id) => "<@" + id.ToString(CultureInfo.InvariantCulture) + ">";

    /// <summary>Discord's relative timestamp markup.</summary>
    public static string Relative(DateTimeOffset at) => "<t:" + at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ":R>";

    public static string Full(DateTimeOffset at) => "<t:" + at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ":f>";

    public static string State(LiveState state) => state switch
    {
        LiveState.Running => "running",
        LiveState.Created => "created (not started)",
        LiveState.Paused => "paused",
        LiveState.Restarting => "restarting",
        LiveState.Exited => "stopped",
        LiveState.Dead => "dead",
        LiveState.Missing => "missing (removed outside Dockhand)",
        _ => state.ToString().ToLowerInvariant(),
    };

    public static int Colour(LiveState state) => state switch
    {
        LiveState.Running => Green,
        LiveState.Exited or LiveState.Created or LiveState.Paused or LiveState.Restarting => Amber,
        _ => Red,
    };

    /// <summary>Inline code that cannot be broken out of by a backtick in a user-chosen name.</summary>
    public static string Code(string text) => "`" + text.Replace('`', '\'') + "`";

    /// <summary>One container as an embed (status, create, start/stop/restart results).</summary>
    public static Embed StatusEmbed(string title, ContainerStatus status)
    {
        var r = status.Record;
        var fields = new List<EmbedField>
        {
            new("Owner", Mention(r.Owner), Inline: true),
            new("State", status.StoppedIdleAfter is { } idle && status.State == LiveState.Exited ? $"stopped after {idle} idle" : State(status.State), Inline: true),
            new("Image", Code(r.Image), Inline: true),
            new("Container", Code(ContainerIds.Short(r.ContainerId)), Inline: true),
            new("Created", Full(r.CreatedAt), Inline: true),
        };
        if (status.StartedAt is { } started && status.State == LiveState.Running)
            fields.Add(new EmbedField("Started", Relative(started), Inline: true));
        // On a Swarm: the node (not the task's error, which is operator detail).
        if (status.Placement is { } placement)
            fields.Add(new EmbedField("Node", Code(placement.Node) + (placement.NodeReady ? "" : $" ({placement.NodeState})"), Inline: true));
        if (status.CpuPercent is { } cpu)
            fields.Add(new EmbedField("CPU", cpu.ToString("0.0", CultureInfo.InvariantCulture) + " %", Inline: true));
        if (status.MemoryUsageBytes is { } memory)
            fields.Add(new EmbedField("Memory", Mib(memory) + (status.MemoryLimitBytes is { } limit and > 0 ? " of " + Mib(limit) : ""), Inline: true));
        if (status.Home is { } home)
            fields.Add(new EmbedField("Home", "kept volume " + Code(home.Name), Inline: true));
        return new Embed { Title = title, Description = Code(r.Name), Color = Colour(status.State), Fields = fields };
    }

    private static string Mib(ulong bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>One /list page: one line per container, in one embed (10 lines stay far below 4096 characters).</summary>
    public static Embed ListEmbed(ContainerPage page)
    {
        var lines = page.Items.Select(s =>
            $"{Code(s.Record.Name)} · {Mention(s.Record.Owner)} · {State(s.State)} · {Code(s.Record.Image)} · created {Relative(s.Record.CreatedAt)}");
        return new Embed
        {
            Title = $"Containers ({page.Total})",
            Description = page.Total == 0 ? "No containers yet. Create one with /create." : string.Join('\n', lines),
            Color = Grey,
            Footer = $"Page {page.PageIndex + 1} of {page.PageCount}",
        };
    }
}
