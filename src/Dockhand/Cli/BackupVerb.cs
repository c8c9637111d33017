using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class BackupVerb
{
    public static Command Build(CliContext context)
    {
        var to = new Option<string>("--to") { Description = "The backup file to write (must not exist yet).", Required = true };
        var command = new Command("backup", "Copy the live database to a new file through SQLite's online backup API, without pausing the bot.") { to };
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            var database = services.GetRequiredService<ContainerStore>().Database;
            if (database.Kind != Dockhand.Containers.Storage.StoreKind.Sqlite)
                return await context.FailAsync(json, "usage", $"backup copies a SQLite file, and this database is PostgreSQL ({database.Path}); use pg_dump, as the README's PostgreSQL section shows", ExitCodes.UsageOrUnavailable);
            var target = Path.GetFullPath(parse.GetValue(to)!);
            if (File.Exists(target))
                return await context.FailAsync(json, "usage", $"--to: {target} already exists; name a new file, so no backup is ever overwritten", ExitCodes.UsageOrUnavailable);
            var copy = await database.BackupToAsync(target, ct);
            if (copy.Integrity != "ok")
                return await context.FailAsync(json, "backup-damaged", $"the copy at {copy.Path} fails SQLite's integrity check ({copy.Integrity}); keep the original and try again", ExitCodes.UsageOrUnavailable);
            if (json)
                await context.WriteJsonAsync(new CliBackup(database.Path, copy.Path, copy.InstanceId, copy.SchemaVersion, copy.Containers, copy.AuditEntries, copy.TerminalLinks), CliJsonContext.Default.CliBackup);
            else
                await context.Output.WriteLineAsync($"backed up {database.Path} to {copy.Path}: {copy.Containers} containers, {copy.AuditEntries} audit entries, " +
                    $"{copy.TerminalLinks} terminal links (instance {copy.InstanceId}, schema {copy.SchemaVersion}, integrity ok)");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
