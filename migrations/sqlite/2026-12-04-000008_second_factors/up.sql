-- Second factors (issue 16).

-- How sure each session is of its holder: the assurance level and the methods used, in
-- order. Sessions made before this migration signed in with a password alone.
ALTER TABLE sessions ADD COLUMN aal SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';

-- An account's second factors. A factor is pending (confirmed_at NULL) until a code from
-- the authenticator confirms it. The seed is sealed (XChaCha20-Poly1305 under
-- mfa.secret_key_file, bound to the row's id); last_used_step is the replay guard: a code
-- is accepted only for a later step, by a guarded UPDATE.
CREATE TABLE mfa_factors (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    secret BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_step BIGINT,
    last_used_at BIGINT
);
CREATE INDEX mfa_factors_user_id ON mfa_factors (user_id);

-- Recovery codes, only as keyed digests; a used one keeps its row until the set is replaced,
-- so "how many remain" is a count.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, digest)
);

-- Second-factor challenges (mfa_token) live with the other codes and are found by digest.
CREATE INDEX verification_codes_digest ON verification_codes (digest);
