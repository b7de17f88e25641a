//! Cheap stand-ins for the keyed secret hash and the password hash.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use portcullis_domain::model::{Password, PasswordHash, SecretDigest};
use portcullis_domain::ports::{HashError, PasswordHasher, SecretHasher};
use sha2::{Digest, Sha256};

/// Lower-case hex of SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A [`SecretHasher`] computing SHA-256 of `purpose`, a zero byte and the secret. Not keyed:
/// fine for tests, never for production.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainSecretHasher;

impl SecretHasher for PlainSecretHasher {
    fn digest(&self, purpose: &str, secret: &str) -> SecretDigest {
        let mut hasher = Sha256::new();
        hasher.update(purpose.as_bytes());
        hasher.update([0u8]);
        hasher.update(secret.as_bytes());
        SecretDigest::new(hasher.finalize().to_vec())
    }
}

/// Prefix of every [`FastHasher`] hash.
pub const FAST_HASH_PREFIX: &str = "fake$";
/// Prefix of hashes "made with old parameters": [`FastHasher`] verifies them and asks for a
/// rehash, like Argon2 after its parameters changed.
pub const LEGACY_HASH_PREFIX: &str = "fake-old$";

#[derive(Debug, Default)]
struct Counters {
    hash_calls: AtomicUsize,
    verify_calls: AtomicUsize,
    busy: AtomicBool,
}

/// A [`PasswordHasher`] that costs nothing: `fake$` + hex SHA-256 of the password.
///
/// It counts calls, so a test can assert how many requests reached the password check, and
/// can be switched to answer [`HashError::Busy`] like a saturated Argon2 pool. Clones share
/// the counters.
#[derive(Clone, Debug, Default)]
pub struct FastHasher {
    counters: Arc<Counters>,
}

impl FastHasher {
    /// A hasher with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The hash [`PasswordHasher::hash`] would return, synchronously (for seeding users).
    pub fn hash_of(password: &str) -> PasswordHash {
        PasswordHash::new(format!("{FAST_HASH_PREFIX}{}", sha256_hex(Password::new(password).expose().as_bytes())))
    }

    /// A hash with "old parameters" (prefixed `fake-old$`), for rehash tests.
    pub fn legacy_hash_of(password: &str) -> PasswordHash {
        PasswordHash::new(format!("{LEGACY_HASH_PREFIX}{}", sha256_hex(Password::new(password).expose().as_bytes())))
    }

    /// Calls of [`PasswordHasher::hash`] so far (including refused ones).
    pub fn hash_calls(&self) -> usize {
        self.counters.hash_calls.load(Ordering::SeqCst)
    }

    /// Calls of [`PasswordHasher::verify`] so far (including refused ones).
    pub fn verify_calls(&self) -> usize {
        self.counters.verify_calls.load(Ordering::SeqCst)
    }

    /// When `true`, `hash` and `verify` answer [`HashError::Busy`] with a one-second wait.
    pub fn set_busy(&self, busy: bool) {
        self.counters.busy.store(busy, Ordering::SeqCst);
    }

    fn check_busy(&self) -> Result<(), HashError> {
        if self.counters.busy.load(Ordering::SeqCst) {
            Err(HashError::Busy { retry_after: Duration::from_secs(1) })
        } else {
            Ok(())
        }
    }
}

impl PasswordHasher for FastHasher {
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        self.counters.hash_calls.fetch_add(1, Ordering::SeqCst);
        self.check_busy()?;
        Ok(PasswordHash::new(format!("{FAST_HASH_PREFIX}{}", sha256_hex(password.expose().as_bytes()))))
    }

    async fn verify(&self, password: Password, hash: PasswordHash) -> Result<bool, HashError> {
        self.counters.verify_calls.fetch_add(1, Ordering::SeqCst);
        self.check_busy()?;
        let stored = hash.as_str();
        let Some(hex) = stored.strip_prefix(FAST_HASH_PREFIX).or_else(|| stored.strip_prefix(LEGACY_HASH_PREFIX))
        else {
            return Err(HashError::Malformed);
        };
        Ok(hex == sha256_hex(password.expose().as_bytes()))
    }

    fn dummy_hash(&self) -> PasswordHash {
        Self::hash_of("the dummy password nobody has")
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        !hash.as_str().starts_with(FAST_HASH_PREFIX)
    }
}
