using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Dockhand.Containers.Storage;

/// <summary>One numbered migration of one module, in one dialect.</summary>
internal sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// The migrations one module contributes: its tables, in both dialects. A module embeds
/// <c>Migrations/Sqlite/NNN_name.sql</c> and <c>Migrations/Postgres/NNN_name.sql</c> (the same numbers in both) and
/// registers one instance in DI (<c>services.AddSingleton(MyModule.Schema)</c>); <see cref="ContainerStore.MigrateAsync"/>
/// applies every registered module's migrations once, in one transaction, and records each module's version
/// in <c>schema_migrations</c>. Containers' own set (<see cref="Containers"/>) always runs first: it makes the instance id.
/// </summary>
public sealed partial class SchemaMigrations
{
    private readonly IReadOnlyList<Migration> _sqlite;
    private readonly IReadOnlyList<Migration> _postgres;

    /// <param name="module">The module's name in <c>schema_migrations</c> (lowercase, stable: never rename it).</param>
    /// <param name="assembly">The assembly that embeds the module's <c>Migrations/{Sqlite,Postgres}/*.sql</c>.</param>
    public SchemaMigrations(string module, Assembly assembly)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(module);
        ArgumentNullException.ThrowIfNull(assembly);
        Module = module;
        _sqlite = Load(assembly, "Sqlite");
        _postgres = Load(assembly, "Postgres");
        if (!_sqlite.Select(m => m.Version).SequenceEqual(_postgres.Select(m => m.Version)))
            throw new InvalidOperationException($"Module {module}: Migrations/Sqlite and Migrations/Postgres must hold the same numbers.");
        if (_sqlite.Count == 0)
            throw new InvalidOperationException($"Module {module} embeds no migrations (Migrations/Sqlite/NNN_name.sql).");
    }

    /// <summary>The container module's tables: containers, terminal_tokens (the seed's), audit_log, dockhand_instance.</summary>
    public static SchemaMigrations Containers { get; } = new("containers", typeof(SchemaMigrations).Assembly);

    public string Module { get; }

    /// <summary>The highest migration number this build ships for the module.</summary>
    public int LatestVersion => _sqlite[^1].Version;

    internal IReadOnlyList<Migration> For(StoreKind kind) => kind == StoreKind.Postgres ? _postgres : _sqlite;

    private static List<Migration> Load(Assembly assembly, string dialect)
    {
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (!match.Success || match.Groups["dialect"].Value != dialect)
                continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(int.Parse(match.Groups["version"].Value, CultureInfo.InvariantCulture), match.Groups["name"].Value, reader.ReadToEnd()));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        if (migrations.Select(m => m.Version).Distinct().Count() != migrations.Count)
            throw new InvalidOperationException($"Migrations/{dialect} in {assembly.GetName().Name} must have distinct numbers (NNN_name.sql).");
        return migrations;
    }

    [GeneratedRegex(@"\.Migrations\.(?<dialect>Sqlite|Postgres)\.(?<version>\d{3})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex MigrationName();
}
