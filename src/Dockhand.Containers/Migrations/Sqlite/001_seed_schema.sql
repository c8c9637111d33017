-- The schema the original Python bot wrote. IF NOT EXISTS lets a seed containers.db open in place.
CREATE TABLE IF NOT EXISTS containers (
    discord_user_id TEXT PRIMARY KEY,
    container_name  TEXT NOT NULL,
    container_id    TEXT NOT NULL UNIQUE,
    image           TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS terminal_tokens (
    container_id TEXT PRIMARY KEY,
    token        TEXT NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
