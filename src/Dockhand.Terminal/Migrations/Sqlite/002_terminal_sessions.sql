-- Terminal sessions, shared by every Dockhand process on the database. Only the SHA-256 of a session id (the cookie) is
-- stored. holder is the process that runs the session's shell; alive_until is pushed forward by that process while the
-- session lives (idle culling on another process reads it). A row outlives its process until expires_at, so the page
-- can open a new shell on another process (or after a restart).
CREATE TABLE IF NOT EXISTS terminal_sessions (
    session_hash   TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL,
    container_id   TEXT NOT NULL,
    container_name TEXT NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    holder         TEXT NOT NULL,
    alive_until    TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS terminal_sessions_container ON terminal_sessions (container_id, alive_until);
CREATE INDEX IF NOT EXISTS terminal_sessions_expiry ON terminal_sessions (expires_at);
