using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace Dockhand.Configuration;

/// <summary>
/// Dockhand's configuration sources (DESIGN §2). Precedence, highest first: environment variables, then <c>.env</c> in the
/// working directory, then <c>appsettings.json</c>. Keys are flat (DISCORD_TOKEN, DATABASE_PATH, ...).
/// </summary>
public static class DockhandConfiguration
{
    /// <summary>A configuration for the CLI: appsettings.json, then .env, then the environment.</summary>
    public static IConfigurationRoot Build(string? directory = null)
        => new ConfigurationBuilder().AddDockhandConfiguration(directory).Build();

    /// <summary>
    /// Adds the sources in the right order to any builder (also a WebApplicationBuilder's): appsettings.json from
    /// <paramref name="directory"/> if no JSON source is there yet, .env just below the environment-variable source
    /// (so the environment wins), and the environment if missing.
    /// </summary>
    public static IConfigurationBuilder AddDockhandConfiguration(this IConfigurationBuilder builder, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        directory ??= Directory.GetCurrentDirectory();
        if (!builder.Sources.OfType<JsonConfigurationSource>().Any())
            builder.Sources.Insert(0, new JsonConfigurationSource { Path = Path.Combine(directory, "appsettings.json"), Optional = true, ReloadOnChange = false }
                .Also(s => s.ResolveFileProvider()));
        var dotEnv = new DotEnvConfigurationSource(Path.Combine(directory, ".env"));
        var environment = builder.Sources.Select((source, index) => (source, index))
            .FirstOrDefault(s => s.source is EnvironmentVariablesConfigurationSource { Prefix: null or "" });
        if (environment.source is null)
        {
            builder.Sources.Add(dotEnv);
            builder.AddEnvironmentVariables();
        }
        else
        {
            builder.Sources.Insert(environment.index, dotEnv);
        }
        return builder;
    }

    /// <summary>
    /// The <c>.env</c> file <paramref name="configuration"/> looks for (full path) and whether it was there; null for a
    /// configuration not built by <see cref="AddDockhandConfiguration"/>.
    /// </summary>
    public static (string Path, bool Found)? DotEnvFile(IConfiguration configuration)
        => (configuration as IConfigurationRoot)?.Providers.OfType<DotEnvConfigurationProvider>().Select(p => (p.FullPath, p.Found))
            .Cast<(string, bool)?>().FirstOrDefault();

    private static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
