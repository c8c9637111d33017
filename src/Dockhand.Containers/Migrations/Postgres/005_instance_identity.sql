-- This database's instance id (as SQLite's 005): 16 random hex digits, made once when the database is first migrated.
CREATE TABLE dockhand_instance (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO dockhand_instance (singleton, id, created_at)
VALUES (1, left(md5(gen_random_uuid()::text), 16), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
