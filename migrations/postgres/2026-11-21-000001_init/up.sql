-- Portcullis schema, PostgreSQL flavour: the tables and columns of migrations/sqlite with
-- PostgreSQL's own types. Ids are UUID, times TIMESTAMPTZ (written with millisecond precision,
-- the domain's Timestamp), the JSON columns JSONB, addresses INET; the two append-only logs
-- take their ids from identity columns (increasing; gaps after rollbacks are fine).
-- Enumerations (status, purpose) carry no CHECK, as in SQLite: the domain parses every value
-- it reads back, and both schemas stay alike.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    -- Normalised (trimmed, lower-cased) by the domain, so plain UNIQUE is case-insensitive.
    -- Soft-deleted accounts keep their row, so their address stays taken. The constraint is
    -- named because the store recognises a duplicate email by it. Its index serves the
    -- look-ups by email.
    email TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    profile_picture TEXT,
    status TEXT NOT NULL,
    email_verified_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);

CREATE TABLE verification_codes (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    digest BYTEA NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL,
    consumed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
-- Serves "newest unconsumed code of this user and purpose" (filter and order, ties by id),
-- the delete in ReplaceCode, and the cascade from users.
CREATE INDEX verification_codes_user_purpose
    ON verification_codes (user_id, purpose, created_at DESC, id DESC);

CREATE TABLE sessions (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_hash BYTEA NOT NULL,
    alert_token_hash BYTEA,
    remember_me BOOLEAN NOT NULL,
    ip_address INET,
    user_agent TEXT,
    device JSONB NOT NULL,
    location JSONB,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- No foreign key on user_id: the security log outlives the accounts it mentions.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id UUID,
    action TEXT NOT NULL,
    ip_address INET,
    user_agent TEXT,
    device JSONB NOT NULL,
    location JSONB,
    fingerprint TEXT,
    metadata JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
-- One index serves the login history's filter, order and pagination, and its count.
CREATE INDEX audit_log_user_created ON audit_log (user_id, created_at DESC, id DESC);

CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data JSONB NOT NULL,
    read_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_user_created ON notifications (user_id, created_at DESC);

CREATE TABLE mail_outbox (
    id UUID PRIMARY KEY,
    to_email TEXT NOT NULL,
    to_name TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    -- Set while a delivery worker holds the message; NULL when free.
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
-- The claim's filter and order: due first, then oldest, ties by id.
CREATE INDEX mail_outbox_next_attempt ON mail_outbox (next_attempt_at, created_at, id);

-- Sliding-window rate limiting: one row per counted event.
CREATE TABLE rate_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_events_key_at ON rate_events (key, at);
