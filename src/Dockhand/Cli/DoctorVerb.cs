using System.CommandLine;
using Dockhand.Containers;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Cli;

internal static class DoctorVerb
{
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
            checks.Add(new CliCheck("configuration", true, "all container settings are valid"));
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
            if (health.Reachable)
            {
                var present = await engine.ImageExistsAsync(options.DefaultImage, ct);
                checks.Add(new CliCheck("default-image", true, present ? $"{options.DefaultImage} is present" : $"{options.DefaultImage} is not present; the first create pulls it"));
            }

            var store = services.GetRequiredService<ContainerStore>();
            if (!store.Database.Exists)
            {
                checks.Add(new CliCheck("database", true, $"{store.Database.Path} does not exist yet; it is created at first use (with a new instance id)"));
            }
            else
            {
                await store.MigrateAsync(ct);
                var db = await store.CheckAsync(ct);
                checks.Add(new CliCheck("database", db.Ok, db.Ok ? $"{db.Path} schema {db.SchemaVersion}" : $"{db.Path}: {db.Error}"));
                if (db.Ok)
                {
                    checks.Add(new CliCheck("instance", true, $"{await store.GetInstanceIdAsync(ct)} (the dockhand.instance label on everything this database's Dockhand creates)"));
                    if (health.Reachable)
                    {
                        var foreign = await services.GetRequiredService<ContainerService>().CountForeignAsync(ct);
                        checks.Add(new CliCheck("foreign", true, $"{foreign} Dockhand container(s) of other instances on this engine; never touched"));
                    }
                }
            }
            // Isolation: the network, the host's metadata firewall rule (a warning: the host's, not Dockhand's) and the disk limit.
            var instance = store.Database.Exists ? await store.GetInstanceIdAsync(ct) : null;
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
        }, cancellationToken, DatabaseUse.LookOnly));
        return command;
    }
}
