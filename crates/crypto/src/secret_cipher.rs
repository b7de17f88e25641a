//! [`SecretCipher`] with XChaCha20-Poly1305 (orion, already linked through pasetors): the
//! TOTP seeds a factor must read back, encrypted under `mfa.secret_key_file`.
//!
//! Layout of a sealed secret: a version byte (1), the 24-byte random nonce, the ciphertext
//! and the 16-byte tag. The additional data is the version byte, a label and the context
//! (the factor's id), so a sealed seed copied onto another factor's row does not open. A
//! 192-bit nonce drawn at random never repeats in practice, which is why XChaCha rather than
//! the 96-bit-nonce ChaCha20-Poly1305.

use std::path::Path;

use orion::hazardous::aead::xchacha20poly1305::{Nonce, SecretKey, XChaCha20Poly1305};
use portcullis_domain::ports::{CipherError, SealedSecret, SecretCipher};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::key_file::{self, KEY_LEN};

/// The layout's version, first byte of every sealed secret and part of its additional data.
const VERSION: u8 = 1;
/// Separates this use of the key from any other.
const LABEL: &[u8] = b"portcullis-mfa-secret\0";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// XChaCha20-Poly1305 under one 32-byte key. `Debug` never shows the key.
pub struct MfaSecretCipher {
    key: SecretKey,
}

impl MfaSecretCipher {
    /// Loads the key from `path`, creating a fresh random one (mode `0600`) when the file is
    /// absent, like the other key files (see the crate documentation for the formats).
    ///
    /// # Errors
    /// [`CryptoError`] when the file cannot be read or created, or holds no valid key.
    pub fn from_key_file(path: &Path) -> Result<Self, CryptoError> {
        let key = Zeroizing::new(key_file::load_or_create(path)?);
        Self::from_key(&key)
    }

    /// Uses `key` directly.
    ///
    /// # Errors
    /// Never for 32 bytes; [`CryptoError::KeyLength`] is orion's refusal passed on.
    pub fn from_key(key: &[u8; KEY_LEN]) -> Result<Self, CryptoError> {
        let key = SecretKey::try_from(key.as_slice()).map_err(|_| CryptoError::KeyLength(key.len()))?;
        Ok(Self { key })
    }
}

impl std::fmt::Debug for MfaSecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaSecretCipher([REDACTED])")
    }
}

/// The additional data of a secret sealed for `context`.
fn additional_data(context: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(1 + LABEL.len() + context.len());
    ad.push(VERSION);
    ad.extend_from_slice(LABEL);
    ad.extend_from_slice(context.as_bytes());
    ad
}

impl SecretCipher for MfaSecretCipher {
    fn seal(&self, context: &str, secret: &[u8]) -> Result<SealedSecret, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| CipherError::Seal(e.to_string()))?;
        let n = Nonce::try_from(nonce.as_slice()).map_err(|e| CipherError::Seal(e.to_string()))?;
        let mut out = vec![0u8; 1 + NONCE_LEN + secret.len() + TAG_LEN];
        out[0] = VERSION;
        out[1..=NONCE_LEN].copy_from_slice(&nonce);
        XChaCha20Poly1305::seal(&self.key, &n, secret, Some(&additional_data(context)), &mut out[1 + NONCE_LEN..])
            .map_err(|e| CipherError::Seal(e.to_string()))?;
        Ok(SealedSecret(out))
    }

    fn open(&self, context: &str, sealed: &SealedSecret) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let bytes = &sealed.0;
        if bytes.len() < 1 + NONCE_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(CipherError::Unopenable);
        }
        let n = Nonce::try_from(&bytes[1..=NONCE_LEN]).map_err(|_| CipherError::Unopenable)?;
        let sealed_part = &bytes[1 + NONCE_LEN..];
        let mut plain = Zeroizing::new(vec![0u8; sealed_part.len() - TAG_LEN]);
        XChaCha20Poly1305::open(&self.key, &n, sealed_part, Some(&additional_data(context)), &mut plain)
            .map_err(|_| CipherError::Unopenable)?;
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> MfaSecretCipher {
        MfaSecretCipher::from_key(&[byte; KEY_LEN]).unwrap()
    }

    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn a_sealed_secret_opens_with_the_same_key_and_context() {
        let c = cipher(7);
        let sealed = c.seal("factor-1", SEED).unwrap();
        assert_eq!(c.open("factor-1", &sealed).unwrap().as_slice(), SEED);
        assert_eq!(sealed.0.len(), 1 + NONCE_LEN + SEED.len() + TAG_LEN);
        assert!(!sealed.0.windows(SEED.len()).any(|w| w == SEED), "the seed is not in the clear");
    }

    #[test]
    fn every_seal_draws_a_new_nonce() {
        let c = cipher(7);
        let (a, b) = (c.seal("factor-1", SEED).unwrap(), c.seal("factor-1", SEED).unwrap());
        assert_ne!(a, b);
        assert_ne!(a.0[1..=NONCE_LEN], b.0[1..=NONCE_LEN]);
    }

    #[test]
    fn another_context_another_key_or_any_flipped_bit_does_not_open() {
        let c = cipher(7);
        let sealed = c.seal("factor-1", SEED).unwrap();
        assert!(matches!(c.open("factor-2", &sealed), Err(CipherError::Unopenable)));
        assert!(matches!(cipher(8).open("factor-1", &sealed), Err(CipherError::Unopenable)));
        for i in 0..sealed.0.len() {
            let mut tampered = sealed.clone();
            tampered.0[i] ^= 0x01;
            assert!(matches!(c.open("factor-1", &tampered), Err(CipherError::Unopenable)), "byte {i}");
        }
        for len in [0, 1, NONCE_LEN, NONCE_LEN + TAG_LEN] {
            let short = SealedSecret(sealed.0[..len].to_vec());
            assert!(matches!(c.open("factor-1", &short), Err(CipherError::Unopenable)), "{len} bytes");
        }
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa.key");
        let sealed = MfaSecretCipher::from_key_file(&path).unwrap().seal("f", SEED).unwrap();
        let reopened = MfaSecretCipher::from_key_file(&path).unwrap();
        assert_eq!(reopened.open("f", &sealed).unwrap().as_slice(), SEED);
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(format!("{:?}", cipher(7)), "MfaSecretCipher([REDACTED])");
        let sealed = cipher(7).seal("f", SEED).unwrap();
        assert_eq!(format!("{sealed:?}"), format!("SealedSecret({} bytes)", sealed.0.len()));
    }
}
