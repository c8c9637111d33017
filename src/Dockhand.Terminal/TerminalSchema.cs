using Dockhand.Containers.Storage;

namespace Dockhand.Terminal;

/// <summary>
/// The terminal module's tables, terminal_links and terminal_sessions, in both dialects (Migrations/Sqlite and Migrations/Postgres here).
/// AddDockhandTerminal registers it; the container module's migration runner applies it once per start.
/// </summary>
public static class TerminalSchema
{
    public static SchemaMigrations Migrations { get; } = new("terminal", typeof(TerminalSchema).Assembly);
}
