//! Ports for hashing, tokens, randomness and time.

pub use crate::model::SealedSecret;
use crate::model::{Aal, AuthMethod, Password, PasswordHash, SecretDigest, SessionId, Timestamp, UserId};
use std::time::Duration;

/// Why hashing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The bounded hashing pool is full: answer 503 and let the client retry.
    #[error("password hashing is saturated")]
    Busy {
        /// Suggested wait.
        retry_after: Duration,
    },
    /// The stored hash cannot be parsed.
    #[error("stored password hash is malformed")]
    Malformed,
    /// Anything else.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Slow, salted password hashing (Argon2id in production).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a password into a PHC string.
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError>;
    /// Checks a password against a PHC string, with the same work whether it matches or not.
    async fn verify(&self, password: Password, hash: PasswordHash) -> Result<bool, HashError>;
    /// A valid hash of a random password with the current parameters, verified for unknown
    /// addresses so that their timing matches known ones.
    fn dummy_hash(&self) -> PasswordHash;
    /// Whether `hash` was made with other parameters (or another algorithm) than the
    /// current ones, so a successful login should store a fresh hash.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}

/// What an access token asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// Subject.
    pub user_id: UserId,
    /// Session, checked to be live on every request.
    pub session_id: SessionId,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Expiry.
    pub expires_at: Timestamp,
    /// The session's assurance level when the token was issued (for the token's readers;
    /// the service itself reads the session's).
    pub aal: Aal,
    /// How the session's holder signed in.
    pub amr: Vec<AuthMethod>,
}

/// Why a token was refused. Deliberately coarse: every case is a 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of ours, tampered with, or unknown key.
    #[error("invalid token")]
    Invalid,
    /// Past its expiry.
    #[error("expired token")]
    Expired,
    /// The issuer could not produce a token.
    #[error("token issuing failed: {0}")]
    Issue(String),
}

/// Issues and checks access tokens (PASETO v4 in production).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync + 'static {
    /// Seals the claims into a token.
    ///
    /// # Errors
    /// [`TokenError::Issue`] when sealing fails.
    fn issue(&self, claims: &AccessClaims) -> Result<String, TokenError>;
    /// Opens and checks a token at `now`.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] or [`TokenError::Expired`].
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError>;
    /// Encrypts and authenticates `plaintext` for storage (the token pair kept for the
    /// refresh grace window) under a key derived from the issuer's key *and* `binding` (the
    /// refresh token it answers), so a stolen database and key file still do not open it
    /// without the binding, which is itself stored only as a keyed hash. A sealed value never
    /// opens as an access token.
    ///
    /// # Errors
    /// [`TokenError::Issue`] when sealing fails.
    fn seal(&self, binding: &str, plaintext: &str) -> Result<String, TokenError>;
    /// Opens a value made by [`TokenIssuer::seal`] with the same `binding`.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything else, or another binding.
    fn unseal(&self, binding: &str, sealed: &str) -> Result<String, TokenError>;
}

/// Keyed hashing of short secrets (codes, refresh and alert tokens) before they are stored.
/// A keyed hash, unlike a plain one, cannot be brute-forced from a stolen database alone:
/// a six-digit code has only a million values.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretHasher: Send + Sync + 'static {
    /// The digest of `secret`, domain-separated by `purpose`.
    fn digest(&self, purpose: &str, secret: &str) -> SecretDigest;
}

/// Cryptographically secure randomness.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait RandomSource: Send + Sync + 'static {
    /// Six uniformly random decimal digits.
    fn six_digits(&self) -> String;
    /// An unguessable URL-safe token (at least 256 bits).
    fn url_token(&self) -> String;
    /// Fills `out` with uniformly random bytes: a TOTP seed, a recovery code's bits.
    fn fill_bytes(&self, out: &mut [u8]);
}

/// The current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(time::OffsetDateTime::now_utc())
    }
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CipherError {
    /// The sealed bytes do not open under this key and context: another key, another
    /// context (a row copied onto another factor), or tampering.
    #[error("the sealed secret does not open under this key and context")]
    Unopenable,
    /// Sealing failed (no randomness for the nonce).
    #[error("sealing failed: {0}")]
    Seal(String),
}

/// Authenticated encryption of the secrets a second factor must read back, under a key of
/// its own (`mfa.secret_key_file`) that the database never holds: a copy of the database
/// alone yields no TOTP seed. Codes and recovery codes, which are only compared, are keyed
/// hashes instead ([`SecretHasher`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretCipher: Send + Sync + 'static {
    /// `secret` encrypted and authenticated, bound to `context` (the factor's id): it opens
    /// only with the same key *and* context.
    ///
    /// # Errors
    /// [`CipherError::Seal`] when no nonce can be drawn.
    fn seal(&self, context: &str, secret: &[u8]) -> Result<SealedSecret, CipherError>;
    /// The secret [`SecretCipher::seal`] sealed for `context`, in memory zeroed on drop.
    ///
    /// # Errors
    /// [`CipherError::Unopenable`] for anything else.
    fn open(&self, context: &str, sealed: &SealedSecret) -> Result<zeroize::Zeroizing<Vec<u8>>, CipherError>;
}
