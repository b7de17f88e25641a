-- Address changes: requested (pending, confirmed_at NULL) with the password and a code sent
-- to new_email, confirmed with that code (the account's address switches), and maybe
-- reverted from old_email with a single-use link. The link's token is stored only as its
-- keyed digest, set on confirmation; while the link works (confirmed, not reverted,
-- revert_expires_at in the future) old_email stays reserved for the account. A change goes
-- with its account; EraseAccountData deletes it explicitly too (it holds addresses).
CREATE TABLE email_changes (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_email TEXT NOT NULL,
    new_email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    revert_token_hash BLOB,
    revert_expires_at BIGINT,
    reverted_at BIGINT
);
-- Serves "newest pending change of this user" (filter and order, ties by id), the deletes
-- of StartEmailChange and RevertEmailChange, the end of later links on a revert, the erasure
-- and the cascade from users: an account has a handful of rows.
CREATE INDEX email_changes_user_created ON email_changes (user_id, created_at DESC, id DESC);
-- The revert link's look-up by digest; partial, as only confirmed changes have one.
CREATE UNIQUE INDEX email_changes_revert_token_hash ON email_changes (revert_token_hash)
    WHERE revert_token_hash IS NOT NULL;
-- "Is this address reserved for a reversal?", asked by registrations and address changes.
-- Partial: only changes whose link may still work, not the pending or reverted ones.
CREATE INDEX email_changes_reserved ON email_changes (old_email, revert_expires_at)
    WHERE confirmed_at IS NOT NULL AND reverted_at IS NULL;
