using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Dockhand.Containers;
using System.Data.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Dockhand.Terminal;

namespace Dockhand.Cli;

/// <summary>How a verb uses the database file.</summary>
internal enum DatabaseUse
{
    /// <summary>Acts on existing records: a missing file is an error ("no database at PATH"), never silently created.</summary>
    MustExist,
    /// <summary>May create the file (create): says so on stderr, with the path and the other instances' containers it will leave alone.</summary>
    CreateIfMissing,
    /// <summary>Only looks (doctor): neither creates nor migrates.</summary>
    LookOnly,
}

/// <summary>What every verb shares: output writers, the configuration, the service provider and error handling.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error, Func<IConfiguration> configuration, bool isTerminal)
{
    public static readonly Option<bool> JsonOption = new("--json") { Description = "Write machine-readable JSON to stdout.", Recursive = true };

    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public bool IsTerminal { get; } = isTerminal;

    public static Option<string> UserOption() => new("--user", "-u") { Description = "The owner's Discord user id (snowflake).", Required = true };

    /// <summary>Reads the configuration, so a bad setting surfaces as one line (exit 2).</summary>
    public IConfiguration LoadConfiguration() => configuration();

    /// <summary>
    /// Runs a verb body with the container services built (and, with <paramref name="terminal"/>, the terminal module's
    /// services: its options bound and validated like in <c>dockhand run</c>) and the database migrated, as
    /// <paramref name="database"/> allows. Every failure becomes one line on stderr (or a JSON error object on stdout
    /// with --json) and an exit code; no stack trace is ever printed.
    /// </summary>
    public async Task<int> RunAsync(ParseResult parse, Func<ServiceProvider, bool, CancellationToken, Task<int>> body, CancellationToken cancellationToken, DatabaseUse database = DatabaseUse.MustExist, bool terminal = false)
    {
        var json = parse.GetValue(JsonOption);
        try
        {
            var services = new ServiceCollection();
            services.AddDockhandContainers(LoadConfiguration());
            if (terminal)
                services.AddDockhandTerminal(LoadConfiguration());
            await using var provider = services.BuildServiceProvider();
            // The check dockhand run's host makes at start (ValidateOnStart), made here before anything else: a bad
            // setting is reported as the same one line.
            provider.GetRequiredService<IStartupValidator>().Validate();
            var store = provider.GetRequiredService<ContainerStore>();
            var existed = store.Database.Exists;
            if (!existed && database == DatabaseUse.MustExist)
                return await FailAsync(json, "no-database", $"no database at {store.Database.Path}; run dockhand from the directory that holds it, or set DATABASE_PATH", ExitCodes.UsageOrUnavailable);
            // A verb that creates containers refuses a setting only the engine can judge (CONTAINER_DISK_LIMIT), as dockhand run does.
            if (database == DatabaseUse.CreateIfMissing)
                await provider.CheckEngineSettingsAsync(cancellationToken);
            if (database != DatabaseUse.LookOnly)
                await store.MigrateAsync(cancellationToken);
            if (store.CreatedNewDatabase && database == DatabaseUse.CreateIfMissing)
                await Error.WriteLineAsync(await DescribeNewDatabaseAsync(provider, cancellationToken));
            return await body(provider, json, cancellationToken);
        }
        catch (InvalidSettingException e)
        {
            return await FailAsync(json, "invalid-setting", $"configuration: {e.Message}", ExitCodes.UsageOrUnavailable);
        }
        catch (Exception e) when (SettingFailures(e) is { Count: > 0 } failures)
        {
            return await FailAsync(json, "invalid-setting", $"configuration: {failures[0]}", ExitCodes.UsageOrUnavailable);
        }
        catch (EngineUnavailableException e)
        {
            return await FailAsync(json, "engine-unavailable", $"the Docker engine cannot be reached ({e.Message}); check DOCKER_HOST or run scripts/engine.sh", ExitCodes.UsageOrUnavailable);
        }
        catch (Exception e) when (e is DbException or IOException or UnauthorizedAccessException)
        {
            return await FailAsync(json, "database-unavailable", $"the database cannot be used ({e.Message.ReplaceLineEndings(" ")}); check DATABASE_PATH or DATABASE_URL", ExitCodes.UsageOrUnavailable);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await FailAsync(json, "cancelled", "cancelled", ExitCodes.UsageOrUnavailable);
        }
        catch (Exception e)
        {
            return await FailAsync(json, "internal-error", $"unexpected {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", ExitCodes.UsageOrUnavailable);
        }
    }

    /// <summary>
    /// The lines of a failed options check (one per bad setting, each naming its key): one options type's
    /// <see cref="OptionsValidationException"/>, or the <see cref="AggregateException"/> the start-up check throws when
    /// several modules' settings are bad. Null for any other exception.
    /// </summary>
    public static IReadOnlyList<string>? SettingFailures(Exception exception) => exception switch
    {
        OptionsValidationException e => [.. e.Failures],
        AggregateException e when e.InnerExceptions.All(i => i is OptionsValidationException) =>
            [.. e.InnerExceptions.Cast<OptionsValidationException>().SelectMany(i => i.Failures)],
        _ => null,
    };

    /// <summary>The note for a database this verb just created: where it is, and what of other instances it will leave alone.</summary>
    private static async Task<string> DescribeNewDatabaseAsync(ServiceProvider provider, CancellationToken cancellationToken)
    {
        var store = provider.GetRequiredService<ContainerStore>();
        var note = $"dockhand: created a new database at {store.Database.Path} (instance {await store.GetInstanceIdAsync(cancellationToken)})";
        try
        {
            var foreign = await provider.GetRequiredService<ContainerService>().CountForeignAsync(cancellationToken);
            return $"{note}; the engine holds {foreign} Dockhand container(s) of other instances, which it leaves untouched";
        }
        catch (EngineUnavailableException)
        {
            return $"{note}; the engine could not be asked about other instances' containers";
        }
    }

    /// <summary>Parses --user; null (after writing the error) when it is not a snowflake.</summary>
    public async Task<OwnerId?> ParseOwnerAsync(ParseResult parse, Option<string> option)
    {
        var text = parse.GetValue(option);
        if (OwnerId.TryParse(text, out var owner))
            return owner;
        await FailAsync(parse.GetValue(JsonOption), "usage", $"--user: '{text}' is not a Discord user id (a snowflake: up to 20 digits)", ExitCodes.UsageOrUnavailable);
        return null;
    }

    public async Task<int> RefusedAsync(bool json, ContainerRefusal refusal)
    {
        var code = refusal is Refusals.EngineUnavailable ? ExitCodes.UsageOrUnavailable : ExitCodes.Refused;
        return await FailAsync(json, KindOf(refusal), refusal.Message, code, refusal.Detail);
    }

    /// <summary>Writes one error line (or a JSON error); <paramref name="detail"/> is the engine's own words, for operators.</summary>
    public async Task<int> FailAsync(bool json, string kind, string message, int exitCode, string? detail = null)
    {
        if (json)
            await WriteJsonAsync(new CliError(kind, message, detail), CliJsonContext.Default.CliError);
        else
            await Error.WriteLineAsync(detail is null ? $"dockhand: {message}" : $"dockhand: {message} (engine: {detail})");
        return exitCode;
    }

    public async Task WriteJsonAsync<T>(T value, JsonTypeInfo<T> type)
        => await Output.WriteLineAsync(JsonSerializer.Serialize(value, type));

    public static string KindOf(ContainerRefusal refusal)
    {
        var name = refusal.GetType().Name;
        return string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
    }

    /// <summary>Brings records and the engine in line before a command changes anything (finishes what a killed process left).</summary>
    public static Task ReconcileFirstAsync(ServiceProvider provider, CancellationToken cancellationToken)
        => provider.GetRequiredService<Reconciler>().ReconcileAsync(cancellationToken);

    public static string Describe(ContainerStatus status)
    {
        var parts = new List<string> { $"{status.Record.Name}", $"owner {status.Record.Owner}", status.StoppedIdleAfter is { } idle ? $"stopped after {idle} idle" : status.State.ToString().ToLowerInvariant(), $"image {status.Record.Image}", $"id {ContainerIds.Short(status.Record.ContainerId)}" };
        if (status.StartedAt is { } started)
            parts.Add($"started {started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");
        if (status.Placement is { } placement)
            parts.Add($"node {placement.Node} ({placement.NodeState}), task {placement.TaskState}" + (placement.TaskError is { } error ? $": {error}" : ""));
        if (status.CpuPercent is { } cpu)
            parts.Add($"cpu {cpu:0.0}%");
        if (status.MemoryUsageBytes is { } memory)
            parts.Add($"memory {memory / 1048576.0:0.0} MiB" + (status.MemoryLimitBytes is { } limit ? $" of {limit / 1048576.0:0} MiB" : ""));
        return string.Join(", ", parts);
    }

}
