-- Crash-safe create/destroy (see docs/containers.md, "Crash safety"); as SQLite's 003.
ALTER TABLE containers ADD COLUMN state TEXT NOT NULL DEFAULT 'ready';
ALTER TABLE containers ADD COLUMN operation_id TEXT;
ALTER TABLE containers ADD COLUMN operation_process TEXT;
ALTER TABLE containers ADD COLUMN updated_at TEXT;
CREATE INDEX containers_name ON containers (container_name);
CREATE INDEX containers_created ON containers (created_at);
