-- Passkeys (issue 17).

-- The credential of a `webauthn` factor (mfa_factors keeps its name and dates). Public
-- data: the engine's record (public key, algorithm, counter, flags). credential_id is
-- unique across accounts: one authenticator credential signs one account in.
-- sign_count is the clone guard: a sign-in stores the new counter only where the row still
-- holds the one the assertion was checked against.
CREATE TABLE passkeys (
    factor_id TEXT PRIMARY KEY NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    user_verified BOOLEAN NOT NULL,
    backed_up BOOLEAN NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- Started WebAuthn ceremonies, found by the keyed hash of their challenge (a discoverable
-- login's response names nothing else), handed out once by DELETE ... RETURNING.
CREATE TABLE webauthn_challenges (
    digest BLOB PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    binding BLOB,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);
