using System.CommandLine;
using Dockhand.Containers;
using Dockhand.Containers.Engine;
using Dockhand.Containers.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class DoctorVerb
{
    /// <summary>The migration that added the instance id (005_instance_identity.sql).</summary>
    private const int InstanceIdSchemaVersion = 5;

    public static Command Build(CliContext context)
    {
        var command = new Command("doctor", "Check the configuration, the Docker engine and the database.");
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse, async (services, json, ct) =>
        {
            var checks = new List<CliCheck>();
            // Checks that warn instead of failing doctor.
            var advisory = new HashSet<string>(StringComparer.Ordinal) { "discord-token" };
            var options = services.GetRequiredService<ContainerOptions>();
            var configuration = context.LoadConfiguration();
            // The container and terminal settings were read to build the services (a bad one already ended doctor with
            // its one line, as in every verb); these are the rest of dockhand run's, read the same way.
            _ = Bot.BotOptions.FromConfiguration(configuration);
            _ = DockhandHost.ReadJsonLogFormat(configuration);
            _ = Observability.MetricsServer.ReadUrls(configuration);
            var discordProblems = Discord.DiscordConfiguration.Read(configuration, new Discord.DiscordOptions())
                .Where(p => !p.StartsWith($"{Discord.DiscordConfiguration.TokenKey} is not set", StringComparison.Ordinal)).ToList();
            checks.Add(new CliCheck("configuration", discordProblems.Count == 0, discordProblems.Count == 0
                ? "the container, web terminal, bot, Discord, LOG_FORMAT and METRICS_URLS settings are valid"
                : string.Join(" ", discordProblems)));
            checks.Add(new CliCheck("dotenv", true, Configuration.DockhandConfiguration.DotEnvFile(configuration) switch
            {
                { Found: true } file => $"read {file.Path}",
                { } file => $"no .env file read: there is none at {file.Path}; settings come from the environment and appsettings.json",
                null => "no .env file read: the settings were given directly",
            }));
            var hasToken = !string.IsNullOrWhiteSpace(configuration["DISCORD_TOKEN"]);
            var hasPublicKey = !string.IsNullOrWhiteSpace(configuration["DISCORD_PUBLIC_KEY"]);
            checks.Add(new CliCheck("discord-token", hasToken || hasPublicKey, (hasToken, hasPublicKey) switch
            {
                (true, true) => "DISCORD_TOKEN and DISCORD_PUBLIC_KEY are set: the gateway and POST /interactions both deliver interactions",
                (true, false) => "DISCORD_TOKEN is set: the gateway delivers interactions",
                (false, true) => "DISCORD_PUBLIC_KEY is set: POST /interactions delivers interactions (no gateway, no command registration)",
                _ => "neither DISCORD_TOKEN nor DISCORD_PUBLIC_KEY is set; dockhand run cannot talk to Discord",
            }));

            var engine = services.GetRequiredService<IContainerRuntime>();
            var health = await engine.PingAsync(ct);
            checks.Add(new CliCheck("engine", health.Reachable, health.Reachable
                ? $"{health.Endpoint} answers; API {health.ApiVersion} (server {health.ServerApiVersion})"
                : $"{health.Endpoint}: {health.Error}; start it with scripts/engine.sh or fix DOCKER_HOST"));
            foreach (var check in await BackendReport.CheckAsync(engine, options, health, ct))
            {
                checks.Add(new CliCheck(check.Name, check.Ok, check.Detail));
                if (check.Advisory)
                    advisory.Add(check.Name);
            }
            if (health.Reachable)
            {
                var present = await engine.ImageExistsAsync(options.DefaultImage, ct);
                checks.Add(new CliCheck("default-image", true, present ? $"{options.DefaultImage} is present" : $"{options.DefaultImage} is not present; the first create pulls it"));
            }

            // Read-only: doctor never creates or migrates the database; it says what the next dockhand run will do.
            var store = services.GetRequiredService<ContainerStore>();
            string? instance = null;
            if (!store.Database.Exists)
            {
                checks.Add(new CliCheck("database", true, $"{store.Database.Path} does not exist yet; it is created at first use (with a new instance id)"));
            }
            else
            {
                var db = await store.CheckAsync(ct);
                // Readable, with a schema version, yet not ok: some module's migrations are behind (any other problem has no version).
                if (db is { Ok: false, SchemaVersion: not null })
                {
                    advisory.Add("database");
                    checks.Add(new CliCheck("database", false, $"{db.Path}: {db.Error} (doctor does not migrate it)"));
                }
                else
                {
                    checks.Add(new CliCheck("database", db.Ok, db.Ok ? $"{db.Path} schema {db.SchemaVersion}" : $"{db.Path}: {db.Error}"));
                }
                // The instance id exists from migration 005 on.
                if (db.SchemaVersion >= InstanceIdSchemaVersion)
                {
                    instance = await store.GetInstanceIdAsync(ct);
                    checks.Add(new CliCheck("instance", true, $"{instance} (the dockhand.instance label on everything this database's Dockhand creates)"));
                    if (health.Reachable)
                    {
                        var foreign = await services.GetRequiredService<ContainerService>().CountForeignAsync(ct);
                        checks.Add(new CliCheck("foreign", true, $"{foreign} Dockhand container(s) of other instances on this engine; never touched"));
                    }
                }
            }
            // Isolation: the network, the host's metadata firewall rule (a warning: the host's, not Dockhand's) and the disk limit.
            foreach (var check in await IsolationReport.CheckAsync(services.GetRequiredService<ContainerService>(), engine, instance, health.Reachable, ct))
            {
                checks.Add(new CliCheck(check.Name, check.Ok, check.Detail));
                if (check.Advisory)
                    advisory.Add(check.Name);
            }
            checks.Add(new CliCheck("home-volumes", true, options.VolumePath.Length > 0
                ? $"each owner's home volume is mounted at {options.VolumePath}; kept on destroy unless purged"
                : "off (CONTAINER_VOLUME_PATH is empty): a destroy deletes every file"));

            var ok = checks.Where(c => !advisory.Contains(c.Name)).All(c => c.Ok);
            if (json)
            {
                await context.WriteJsonAsync(new CliDoctor(ok, checks), CliJsonContext.Default.CliDoctor);
            }
            else
            {
                foreach (var check in checks)
                    await context.Output.WriteLineAsync($"{(check.Ok ? "ok  " : advisory.Contains(check.Name) ? "warn" : "FAIL")} {check.Name}: {check.Detail}");
            }
            return ok ? ExitCodes.Success : ExitCodes.UsageOrUnavailable;
        }, cancellationToken, DatabaseUse.LookOnly, terminal: true));
        return command;
    }
}
