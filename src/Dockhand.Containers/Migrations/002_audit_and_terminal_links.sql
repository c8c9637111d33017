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

-- One-time terminal links. Only the SHA-256 of a token is stored (hex), never the token.
-- The seed's terminal_tokens table held tokens in clear text; it is kept but no longer written.
CREATE TABLE terminal_links (
    token_hash   TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    container_id TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP
);
CREATE INDEX terminal_links_expiry ON terminal_links (expires_at);
