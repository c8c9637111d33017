-- When each session's shell was opened (as the SQLite migration): the per-owner cap orders an owner's sessions by it.
ALTER TABLE terminal_sessions ADD COLUMN opened_at TEXT NOT NULL DEFAULT '';
CREATE INDEX terminal_sessions_owner ON terminal_sessions (owner_id, alive_until);
