-- Dockhand's additions. Columns and tables are only ever added; the seed's are never dropped.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TIMESTAMP NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    owner_id       TEXT,
    container_name TEXT,
    container_id   TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT
);
CREATE INDEX audit_log_owner ON audit_log (owner_id, at);

-- This migration also created terminal_links until the Terminal module took its own table (Dockhand.Terminal's
-- Migrations/Sqlite/001_terminal_links.sql, CREATE TABLE IF NOT EXISTS, so databases migrated before keep theirs).
