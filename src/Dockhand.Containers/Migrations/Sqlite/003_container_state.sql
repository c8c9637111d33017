-- Crash-safe create/destroy (see docs/containers.md, "Crash safety").
-- state: 'ready' (seed rows and finished creates), 'creating' (intent recorded, engine work in flight),
-- 'destroying' (removal in flight). operation_id is also put on the container as the label dockhand.op,
-- so the reconciler can tie a half-made container to its intent row. operation_process is "<pid>:<start ticks>"
-- of the process doing the work: the reconciler leaves rows of a live process alone.
ALTER TABLE containers ADD COLUMN state TEXT NOT NULL DEFAULT 'ready';
ALTER TABLE containers ADD COLUMN operation_id TEXT;
ALTER TABLE containers ADD COLUMN operation_process TEXT;
ALTER TABLE containers ADD COLUMN updated_at TIMESTAMP;
CREATE INDEX containers_name ON containers (container_name);
CREATE INDEX containers_created ON containers (created_at);
