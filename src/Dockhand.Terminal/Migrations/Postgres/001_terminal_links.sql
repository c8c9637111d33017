-- One-time terminal links (as the SQLite migration). Times are fixed-width ISO-8601 UTC text, compared as text.
CREATE TABLE terminal_links (
    token_hash   TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    container_id TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX terminal_links_expiry ON terminal_links (expires_at);
CREATE INDEX terminal_links_owner ON terminal_links (owner_id, created_at);
