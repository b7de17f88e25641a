//! [`PlainCipher`]: a [`SecretCipher`] that does not encrypt, for tests.

use portcullis_domain::model::SealedSecret;
use portcullis_domain::ports::{CipherError, SecretCipher};
use zeroize::Zeroizing;

/// Tag that starts every value [`PlainCipher`] seals.
const TAG: &[u8] = b"plain-sealed\0";

/// A [`SecretCipher`] that keeps the secret in clear behind a tag and the context, and opens
/// only with the same context, as the real cipher does. Fine for tests, never for production:
/// anyone reading the store reads the secret.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainCipher;

impl SecretCipher for PlainCipher {
    fn seal(&self, context: &str, secret: &[u8]) -> Result<SealedSecret, CipherError> {
        let mut out = Vec::with_capacity(TAG.len() + context.len() + 1 + secret.len());
        out.extend_from_slice(TAG);
        out.extend_from_slice(context.as_bytes());
        out.push(0);
        out.extend_from_slice(secret);
        Ok(SealedSecret(out))
    }

    fn open(&self, context: &str, sealed: &SealedSecret) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let rest = sealed.0.strip_prefix(TAG).ok_or(CipherError::Unopenable)?;
        let rest = rest.strip_prefix(context.as_bytes()).ok_or(CipherError::Unopenable)?;
        let secret = rest.strip_prefix(&[0][..]).ok_or(CipherError::Unopenable)?;
        Ok(Zeroizing::new(secret.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_under_the_same_context() {
        let sealed = PlainCipher.seal("factor-1", b"seed").unwrap();
        assert_eq!(PlainCipher.open("factor-1", &sealed).unwrap().as_slice(), b"seed");
        assert!(PlainCipher.open("factor-2", &sealed).is_err());
        assert!(PlainCipher.open("factor-1", &SealedSecret(b"seed".to_vec())).is_err());
    }
}
