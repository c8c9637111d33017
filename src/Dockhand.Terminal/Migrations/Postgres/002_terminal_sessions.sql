-- Terminal sessions shared by every Dockhand process (as the SQLite migration). Times are fixed-width ISO-8601 UTC text.
CREATE TABLE terminal_sessions (
    session_hash   TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL,
    container_id   TEXT NOT NULL,
    container_name TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    holder         TEXT NOT NULL,
    alive_until    TEXT NOT NULL
);
CREATE INDEX terminal_sessions_container ON terminal_sessions (container_id, alive_until);
CREATE INDEX terminal_sessions_expiry ON terminal_sessions (expires_at);
