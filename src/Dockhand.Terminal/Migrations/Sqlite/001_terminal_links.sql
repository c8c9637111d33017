-- One-time terminal links. Only the SHA-256 of a token is stored (hex), never the token.
-- The seed's terminal_tokens table held tokens in clear text; it is kept (Containers' migrations) but never written.
-- IF NOT EXISTS: databases migrated before the Terminal module owned this table got it from Containers' 002.
CREATE TABLE IF NOT EXISTS terminal_links (
    token_hash   TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    container_id TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP
);
CREATE INDEX IF NOT EXISTS terminal_links_expiry ON terminal_links (expires_at);
CREATE INDEX IF NOT EXISTS terminal_links_owner ON terminal_links (owner_id, created_at);
