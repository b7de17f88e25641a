-- Portcullis schema, SQLite flavour. Every time is BIGINT unix milliseconds (the domain's
-- Timestamp), every id a UUID in text form except the two append-only logs, whose integer ids
-- order entries and serve as permits. JSON columns hold TEXT written by the store crate.
-- Enumerations (status, purpose) carry no CHECK: SQLite cannot alter a CHECK without
-- rebuilding the table, and the domain parses every value it reads back.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- Normalised (trimmed, lower-cased) by the domain, so plain UNIQUE is case-insensitive.
    -- Soft-deleted accounts keep their row, so their address stays taken.
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    profile_picture TEXT,
    status TEXT NOT NULL,
    email_verified_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE verification_codes (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    digest BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    created_at BIGINT NOT NULL
);
-- Serves "newest unconsumed code of this user and purpose" and the delete in ReplaceCode.
CREATE INDEX verification_codes_user_purpose ON verification_codes (user_id, purpose, created_at);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_hash BLOB NOT NULL,
    alert_token_hash BLOB,
    remember_me BOOLEAN NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    device TEXT NOT NULL,
    location TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- No foreign key on user_id: the security log outlives the accounts it mentions.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT,
    action TEXT NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    device TEXT NOT NULL,
    location TEXT,
    fingerprint TEXT,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- One index serves the login history's filter, order and pagination, and its count.
CREATE INDEX audit_log_user_created ON audit_log (user_id, created_at DESC, id DESC);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL,
    read_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_user_created ON notifications (user_id, created_at DESC);

CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    to_email TEXT NOT NULL,
    to_name TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- Set while a delivery worker holds the message; NULL when free.
    locked_until BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_outbox_next_attempt ON mail_outbox (next_attempt_at);

-- Sliding-window rate limiting: one row per counted event.
CREATE TABLE rate_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX rate_events_key_at ON rate_events (key, at);
