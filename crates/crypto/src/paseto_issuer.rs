//! PASETO `v4.local` access tokens.
//!
//! We use pasetors' low-level `version4::LocalToken` rather than its `local` module because
//! the port passes `now` in: claim validation must use the caller's clock (tests and the
//! domain's `Clock`), not the system time pasetors' `ClaimsValidationRules` reads.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pasetors::Local;
use pasetors::claims::Claims;
use pasetors::footer::Footer;
use pasetors::keys::SymmetricKey;
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{AccessClaims, TokenError, TokenIssuer};

use crate::CryptoError;
use crate::key_file::{self, KEY_LEN};

/// Binds tokens to their use: a token sealed for another purpose with the same key (none
/// today, but keys get reused) does not open here. Never sent over the wire.
const IMPLICIT_ASSERTION: &[u8] = b"portcullis-access-v1";
/// Random bytes in a `jti`.
const JTI_BYTES: usize = 16;

/// [`TokenIssuer`] producing PASETO `v4.local` tokens.
///
/// Claims: `sub` (user id), `sid` (session id), `iat` and `exp` (RFC 3339 with
/// milliseconds) and a random `jti`. The footer is `{"kid":"k4.lid.…"}`, the PASERK id of
/// the key, so a later key rotation can pick the right key; today any other id is invalid.
pub struct PasetoIssuer {
    key: SymmetricKey<V4>,
    key_id: String,
    /// The exact footer bytes we write, compared in constant time when opening a token.
    footer: Vec<u8>,
}

impl PasetoIssuer {
    /// Loads the key from `path`, creating a fresh random one (mode `0600`) when the file is
    /// absent. See the crate documentation for the accepted formats.
    ///
    /// # Errors
    /// [`CryptoError`] when the file cannot be read or created, or holds no valid key.
    pub fn from_key_file(path: &Path) -> Result<Self, CryptoError> {
        let key = key_file::load_or_create(path)?;
        Self::from_key_bytes(&key)
    }

    /// Uses `bytes` as the key.
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] unless `bytes` is exactly 32 bytes long.
    pub fn from_key_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::KeyLength(bytes.len()));
        }
        let key = SymmetricKey::<V4>::from(bytes).map_err(|e| CryptoError::Paseto(e.to_string()))?;
        let id = Id::from(&key);
        let mut key_id = String::new();
        FormatAsPaserk::fmt(&id, &mut key_id).map_err(|e| CryptoError::Paseto(e.to_string()))?;
        let mut footer = Footer::new();
        footer.key_id(&id);
        let footer = footer.to_string().map_err(|e| CryptoError::Paseto(e.to_string()))?.into_bytes();
        Ok(Self { key, key_id, footer })
    }

    /// The PASERK local id of the key (`k4.lid.…`): a hash of it, safe to log and publish.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn open(&self, token: &str) -> Result<Claims, TokenError> {
        let untrusted = UntrustedToken::<Local, V4>::try_from(token).map_err(|_| TokenError::Invalid)?;
        // Passing our footer makes pasetors reject a token naming another key before any
        // decryption, and the footer is authenticated as part of the token anyway.
        let trusted = LocalToken::decrypt(&self.key, &untrusted, Some(&self.footer), Some(IMPLICIT_ASSERTION))
            .map_err(|_| TokenError::Invalid)?;
        Claims::from_string(trusted.payload()).map_err(|_| TokenError::Invalid)
    }
}

impl std::fmt::Debug for PasetoIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasetoIssuer").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

fn issue_error(e: impl std::fmt::Display) -> TokenError {
    TokenError::Issue(e.to_string())
}

impl TokenIssuer for PasetoIssuer {
    fn issue(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let mut jti = [0u8; JTI_BYTES];
        getrandom::fill(&mut jti).map_err(issue_error)?;

        // `Claims::new` stamps iat/nbf/exp from the system clock; we overwrite iat and exp
        // with the caller's values and drop nbf, which we would otherwise have to keep in
        // step with iat for nothing.
        let mut sealed = Claims::new().map_err(issue_error)?;
        sealed.remove_claim("nbf");
        sealed.subject(&claims.user_id.to_string()).map_err(issue_error)?;
        sealed.add_additional("sid", claims.session_id.to_string()).map_err(issue_error)?;
        sealed.issued_at(&claims.issued_at.to_rfc3339()).map_err(issue_error)?;
        sealed.expiration(&claims.expires_at.to_rfc3339()).map_err(issue_error)?;
        sealed.token_identifier(&URL_SAFE_NO_PAD.encode(jti)).map_err(issue_error)?;

        let payload = sealed.to_string().map_err(issue_error)?;
        LocalToken::encrypt(&self.key, payload.as_bytes(), Some(&self.footer), Some(IMPLICIT_ASSERTION))
            .map_err(issue_error)
    }

    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        let claims = self.open(token)?;
        let text = |name: &str| claims.get_claim(name).and_then(|v| v.as_str()).ok_or(TokenError::Invalid);
        let time = |name: &str| Timestamp::parse_rfc3339(text(name)?).map_err(|_| TokenError::Invalid);

        let access = AccessClaims {
            user_id: text("sub")?.parse().map_err(|_| TokenError::Invalid)?,
            session_id: text("sid")?.parse().map_err(|_| TokenError::Invalid)?,
            issued_at: time("iat")?,
            expires_at: time("exp")?,
        };
        text("jti")?;
        // Checked only after the token proved authentic, so a forgery is never "expired".
        // Expired from `exp` on, matching `Session::is_live`.
        if now >= access.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(access)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portcullis_domain::model::{SessionId, UserId};

    use super::*;

    fn issuer(byte: u8) -> PasetoIssuer {
        PasetoIssuer::from_key_bytes(&[byte; 32]).unwrap()
    }

    fn claims() -> AccessClaims {
        let issued_at = Timestamp::from_unix_millis(1_772_945_185_344);
        AccessClaims {
            user_id: UserId::new_v7(),
            session_id: SessionId::new_v7(),
            issued_at,
            expires_at: issued_at.plus(Duration::from_secs(900)),
        }
    }

    #[test]
    fn round_trip_keeps_every_claim() {
        let issuer = issuer(1);
        let claims = claims();
        let token = issuer.issue(&claims).unwrap();
        assert!(token.starts_with("v4.local."));
        let now = claims.issued_at.plus(Duration::from_secs(60));
        assert_eq!(issuer.verify(&token, now).unwrap(), claims);
    }

    #[test]
    fn each_token_is_unique() {
        let issuer = issuer(1);
        let claims = claims();
        assert_ne!(issuer.issue(&claims).unwrap(), issuer.issue(&claims).unwrap());
    }

    #[test]
    fn tampered_token_is_invalid() {
        let issuer = issuer(1);
        let claims = claims();
        let token = issuer.issue(&claims).unwrap();
        let mut bytes = token.into_bytes();
        // Somewhere inside the encrypted payload.
        let i = "v4.local.".len() + 40;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(issuer.verify(&tampered, claims.issued_at), Err(TokenError::Invalid));
        assert_eq!(issuer.verify("garbage", claims.issued_at), Err(TokenError::Invalid));
        assert_eq!(issuer.verify("", claims.issued_at), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_from_exp_on() {
        let issuer = issuer(1);
        let claims = claims();
        let token = issuer.issue(&claims).unwrap();
        let just_before = claims.expires_at.minus(Duration::from_millis(1));
        assert!(issuer.verify(&token, just_before).is_ok());
        assert_eq!(issuer.verify(&token, claims.expires_at), Err(TokenError::Expired));
        assert_eq!(issuer.verify(&token, claims.expires_at.plus(Duration::from_secs(3600))), Err(TokenError::Expired));
    }

    #[test]
    fn token_from_another_key_is_invalid_even_when_expired() {
        let claims = claims();
        let token = issuer(2).issue(&claims).unwrap();
        assert_eq!(issuer(1).verify(&token, claims.issued_at), Err(TokenError::Invalid));
        assert_eq!(issuer(1).verify(&token, claims.expires_at), Err(TokenError::Invalid));
    }

    #[test]
    fn wrong_footer_with_the_right_key_is_invalid() {
        // A token sealed with our key but announcing another key id (a future rotated key).
        let ours = issuer(1);
        let other_id = Id::from(&SymmetricKey::<V4>::from(&[2u8; 32]).unwrap());
        let mut footer = Footer::new();
        footer.key_id(&other_id);
        let payload = r#"{"sub":"x"}"#;
        let token = LocalToken::encrypt(
            &ours.key,
            payload.as_bytes(),
            Some(footer.to_string().unwrap().as_bytes()),
            Some(IMPLICIT_ASSERTION),
        )
        .unwrap();
        assert_eq!(ours.verify(&token, claims().issued_at), Err(TokenError::Invalid));
    }

    #[test]
    fn footer_carries_the_key_id() {
        let issuer = issuer(1);
        assert!(issuer.key_id().starts_with("k4.lid."));
        assert_ne!(issuer.key_id(), self::issuer(2).key_id());
        let token = issuer.issue(&claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 4, "v4.local.payload.footer");
        let footer = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[3]).unwrap()).unwrap();
        assert_eq!(footer, format!(r#"{{"kid":"{}"}}"#, issuer.key_id()));
        assert!(!format!("{issuer:?}").contains("key:"));
    }

    #[test]
    fn rejects_short_keys_and_reuses_key_files() {
        assert!(matches!(PasetoIssuer::from_key_bytes(&[1u8; 16]), Err(CryptoError::KeyLength(16))));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paseto.key");
        let a = PasetoIssuer::from_key_file(&path).unwrap();
        let b = PasetoIssuer::from_key_file(&path).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        let claims = claims();
        let token = a.issue(&claims).unwrap();
        assert_eq!(b.verify(&token, claims.issued_at).unwrap(), claims);
    }
}
