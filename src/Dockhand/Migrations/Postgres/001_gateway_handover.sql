-- Two Dockhand processes on one database hand the Discord gateway over (ScaleOut/). Times are fixed-width ISO-8601 UTC text.
-- The session the gateway holder last saved, so that the next holder resumes it and Discord replays what came after.
CREATE TABLE gateway_session (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    session_id TEXT NOT NULL,
    resume_url TEXT,
    sequence   BIGINT NOT NULL,
    saved_at   TEXT NOT NULL
);
-- Interactions taken over the gateway: a replayed one that was answered is not answered again.
CREATE TABLE interaction_claims (
    interaction_id TEXT PRIMARY KEY,
    claimed_by     TEXT NOT NULL,
    claimed_at     TEXT NOT NULL,
    answered_at    TEXT
);
CREATE INDEX interaction_claims_age ON interaction_claims (claimed_at);
