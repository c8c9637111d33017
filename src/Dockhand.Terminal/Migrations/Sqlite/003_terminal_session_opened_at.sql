-- When each session's shell was opened (a takeover by another process opens a new one), so that every process orders an
-- owner's sessions the same way when the per-owner cap (TERMINAL_MAX_SESSIONS, counted over all processes) ends the oldest.
-- Rows from before have '' and count as the oldest.
ALTER TABLE terminal_sessions ADD COLUMN opened_at TIMESTAMP NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS terminal_sessions_owner ON terminal_sessions (owner_id, alive_until);
