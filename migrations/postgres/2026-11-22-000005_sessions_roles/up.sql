-- Roles (issue 5): a JSON array of role names; every account has "user", which is what the
-- accounts created before this migration get.
ALTER TABLE users ADD COLUMN roles JSONB NOT NULL DEFAULT '["user"]';

-- When the "Not you?" alert token stops working; NULL with no token.
ALTER TABLE sessions ADD COLUMN alert_expires_at TIMESTAMPTZ;
-- The refresh (every token refresh) and "Not you?" look-ups by digest.
CREATE INDEX sessions_refresh_token_hash ON sessions (refresh_token_hash);
CREATE INDEX sessions_alert_token_hash ON sessions (alert_token_hash);

-- Refresh tokens a session has rotated away from, for reuse detection: when each was
-- exchanged and the (sealed) pair it was exchanged for, so racing refreshes inside the grace
-- window get the same answer. They go with their session.
CREATE TABLE spent_refresh_tokens (
    digest BYTEA PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at TIMESTAMPTZ NOT NULL,
    successor TEXT NOT NULL
);
-- Serves the cascade from sessions.
CREATE INDEX spent_refresh_tokens_session_id ON spent_refresh_tokens (session_id);
