//! HMAC-SHA256 digests of short secrets (codes, refresh and alert tokens) before storage.
//!
//! A plain hash of a six-digit code falls to a million guesses; a keyed one cannot be
//! brute-forced from the database alone, because the key lives in a separate file.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use portcullis_domain::model::SecretDigest;
use portcullis_domain::ports::SecretHasher;
use sha2::Sha256;

use crate::CryptoError;
use crate::key_file::{self, KEY_LEN};

/// SHA-256's block size: HMAC keys shorter than a block are zero-padded to it.
const BLOCK_LEN: usize = 64;

/// [`SecretHasher`] computing HMAC-SHA256 over `purpose || 0x00 || secret`.
///
/// The purpose (for example `"refresh"` or `"email-code"`) separates domains, so a digest
/// made for one kind of secret never matches another. Purposes are fixed strings chosen by
/// the server and must not contain a NUL byte, which is the separator.
#[derive(Clone)]
pub struct HmacSecretHasher {
    /// Keyed once; cloned per digest, which is cheaper than re-deriving the padded keys.
    mac: Hmac<Sha256>,
}

impl HmacSecretHasher {
    /// Loads the key from `path`, creating a fresh random one (mode `0600`) when the file is
    /// absent. See the crate documentation for the accepted formats.
    ///
    /// # Errors
    /// [`CryptoError`] when the file cannot be read or created, or holds no valid key.
    pub fn from_key_file(path: &Path) -> Result<Self, CryptoError> {
        key_file::load_or_create(path).map(Self::from_key)
    }

    /// Uses `key` directly.
    pub fn from_key(key: [u8; KEY_LEN]) -> Self {
        // Zero-padding a short key to the block size is exactly what HMAC does itself
        // (RFC 2104, section 2), so this equals keying with the 32 bytes. Doing it here lets
        // us use the infallible fixed-size constructor instead of the fallible slice one.
        let mut block = [0u8; BLOCK_LEN];
        block[..KEY_LEN].copy_from_slice(&key);
        Self { mac: Hmac::<Sha256>::new(&block.into()) }
    }
}

impl std::fmt::Debug for HmacSecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSecretHasher([REDACTED])")
    }
}

impl SecretHasher for HmacSecretHasher {
    fn digest(&self, purpose: &str, secret: &str) -> SecretDigest {
        debug_assert!(!purpose.contains('\0'), "a purpose must not contain the separator");
        let mut mac = self.mac.clone();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(secret.as_bytes());
        SecretDigest::new(mac.finalize().into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_stable_and_matches_a_known_vector() {
        let hasher = HmacSecretHasher::from_key([7u8; 32]);
        let a = hasher.digest("refresh", "token-123");
        let b = hasher.digest("refresh", "token-123");
        assert!(a.ct_eq(&b));
        assert_eq!(a.as_bytes().len(), 32);

        // Same computation through the slice constructor, to pin down the padding argument.
        let mut reference = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).unwrap();
        reference.update(b"refresh\0token-123");
        assert_eq!(a.as_bytes(), reference.finalize().into_bytes().as_slice());
    }

    #[test]
    fn digest_is_purpose_separated() {
        let hasher = HmacSecretHasher::from_key([7u8; 32]);
        assert_ne!(hasher.digest("refresh", "123456"), hasher.digest("email-code", "123456"));
        // The separator keeps the boundary unambiguous.
        assert_ne!(hasher.digest("ab", "c"), hasher.digest("a", "bc"));
    }

    #[test]
    fn digest_depends_on_the_key() {
        let a = HmacSecretHasher::from_key([1u8; 32]);
        let b = HmacSecretHasher::from_key([2u8; 32]);
        assert_ne!(a.digest("refresh", "x"), b.digest("refresh", "x"));
        assert!(!format!("{a:?}").contains('1'));
    }

    #[test]
    fn key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        let a = HmacSecretHasher::from_key_file(&path).unwrap();
        let b = HmacSecretHasher::from_key_file(&path).unwrap();
        assert_eq!(a.digest("p", "s"), b.digest("p", "s"));
    }
}
