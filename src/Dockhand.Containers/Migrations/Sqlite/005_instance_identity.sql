-- This database's instance id: everything Dockhand creates on the engine carries it as dockhand.instance, and every
-- listing, event filter and clean-up is scoped by it, so two Dockhands on one engine never touch each other's containers.
-- It is made once, when the database is first migrated; a copied or restored database keeps it.
CREATE TABLE dockhand_instance (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO dockhand_instance (singleton, id, created_at)
VALUES (1, lower(hex(randomblob(8))), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
