-- The schema the original Python bot wrote, with the same column names. Times stay ISO-8601 UTC text, as the seed
-- wrote them (DESIGN's schema contract): every time Dockhand writes has one fixed width, so text order is time order,
-- and a copied seed value (any format the Python bot used) is kept exactly.
CREATE TABLE containers (
    discord_user_id TEXT PRIMARY KEY,
    container_name  TEXT NOT NULL,
    container_id    TEXT NOT NULL UNIQUE,
    image           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

CREATE TABLE terminal_tokens (
    container_id TEXT PRIMARY KEY,
    token        TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
