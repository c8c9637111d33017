-- As SQLite's 004: the seed's clear-text tokens are never read, so none is kept (a new database has none anyway).
DELETE FROM terminal_tokens;
