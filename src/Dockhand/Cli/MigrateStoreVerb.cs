using System.CommandLine;
using System.Data.Common;
using Dockhand.Containers.Storage;
using Dockhand.Terminal;

namespace Dockhand.Cli;

/// <summary>
/// <c>dockhand migrate-store --from sqlite:PATH --to postgres://…</c>: copies every record of a SQLite file (Dockhand's or
/// the Python bot's) into PostgreSQL in one transaction (<see cref="StoreCopier"/>). Run it with the bot stopped; a second
/// run copies nothing. It reads no configuration: both ends are named on the command line.
/// </summary>
internal static class MigrateStoreVerb
{
    private const string SqlitePrefix = "sqlite:";

    public static Command Build(CliContext context)
    {
        var from = new Option<string>("--from") { Description = "The SQLite file to copy: sqlite:PATH (it is only read).", Required = true };
        var to = new Option<string>("--to") { Description = "The PostgreSQL database to copy into: postgres://USER:PASSWORD@HOST:PORT/DATABASE.", Required = true };
        var command = new Command("migrate-store", "Copy every record from a SQLite file into PostgreSQL, in one transaction; a second run changes nothing.") { from, to };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var json = parse.GetValue(CliContext.JsonOption);
            var source = parse.GetValue(from)!;
            var target = parse.GetValue(to)!;
            if (!source.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase) || source.Length == SqlitePrefix.Length)
                return await context.FailAsync(json, "usage", "--from: write sqlite:PATH, the SQLite file to copy (e.g. sqlite:containers.db)", ExitCodes.UsageOrUnavailable);
            if (!PostgresUrl.IsPostgres(target))
                return await context.FailAsync(json, "usage", "--to: write a PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE", ExitCodes.UsageOrUnavailable);
            DockhandDatabase database;
            try
            {
                database = DockhandDatabase.ForPostgres(target);
            }
            catch (FormatException e)
            {
                return await context.FailAsync(json, "usage", $"--to: {e.Message}", ExitCodes.UsageOrUnavailable);
            }
            using (database)
            {
                var path = Path.GetFullPath(source[SqlitePrefix.Length..]);
                try
                {
                    var copy = await StoreCopier.CopyAsync(path, database, [TerminalSchema.Migrations], cancellationToken);
                    if (json)
                    {
                        await context.WriteJsonAsync(new CliStoreCopy(path, database.Path, copy.Instance, copy.Containers, copy.AuditEntries, copy.TerminalLinks,
                            copy.SourceContainers, copy.SourceAuditEntries, copy.SourceTerminalLinks, copy.SkippedSeedTokens), CliJsonContext.Default.CliStoreCopy);
                    }
                    else
                    {
                        await context.Output.WriteLineAsync(copy.ChangedNothing
                            ? $"nothing to copy: {database.Path} already holds every record of {path} (instance {copy.Instance})"
                            : $"copied {path} to {database.Path} (instance {copy.Instance}): {copy.Containers} of {copy.SourceContainers} containers, " +
                              $"{copy.AuditEntries} of {copy.SourceAuditEntries} audit entries, {copy.TerminalLinks} of {copy.SourceTerminalLinks} terminal links (the rest were there already)");
                        if (copy.SkippedSeedTokens > 0)
                            await context.Output.WriteLineAsync($"left out {copy.SkippedSeedTokens} clear-text terminal tokens of the Python bot: Dockhand never reads them (its links are hashed), and migrating the file in place deletes them too");
                    }
                    return ExitCodes.Success;
                }
                catch (FileNotFoundException)
                {
                    return await context.FailAsync(json, "usage", $"--from: there is no file at {path}", ExitCodes.UsageOrUnavailable);
                }
                catch (StoreCopyRefusedException e)
                {
                    return await context.FailAsync(json, "refused", $"{e.Message}; nothing was copied", ExitCodes.Refused);
                }
                catch (Exception e) when (e is DbException or IOException or UnauthorizedAccessException or TimeoutException)
                {
                    return await context.FailAsync(json, "database-unavailable",
                        $"the copy failed and was rolled back, so {database.Path} is as it was ({e.Message.ReplaceLineEndings(" ")}); fix the cause and run it again", ExitCodes.UsageOrUnavailable);
                }
            }
        });
        return command;
    }
}
