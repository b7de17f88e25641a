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
use portcullis_domain::model::{Aal, AuthMethod, Timestamp};
use portcullis_domain::ports::{AccessClaims, TokenError, TokenIssuer};

use subtle::ConstantTimeEq as _;

use crate::key_file::{self, KEY_LEN};
use crate::{CryptoError, keyring};

/// Binds tokens to their use: a token sealed for another purpose with the same key (none
/// today, but keys get reused) does not open here. Never sent over the wire.
const IMPLICIT_ASSERTION: &[u8] = b"portcullis-access-v1";
/// The implicit assertion of sealed values (see [`TokenIssuer::seal`]): a sealed value never
/// opens as an access token, nor an access token as a sealed value.
const SEAL_ASSERTION: &[u8] = b"portcullis-sealed-v1";
/// Domain separation of the sealing-key derivation (see `sealing_key`).
const SEAL_KEY_LABEL: &[u8] = b"portcullis-seal-key-v1\0";
/// Random bytes in a `jti`.
const JTI_BYTES: usize = 16;
/// How far ahead of the verifier's clock a token's `iat` or `nbf` may be: instances share
/// keys but not clocks, and NTP keeps them well within this.
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(30);

/// [`TokenIssuer`] producing PASETO `v4.local` tokens.
///
/// Claims: `sub` (user id), `sid` (session id), `iat` and `exp` (RFC 3339 with
/// milliseconds) and a random `jti`. The footer is `{"kid":"k4.lid.…"}`, the PASERK id of
/// the key that sealed the token. The issuer holds one current key, which issues and seals,
/// and any number of retired keys (see [`crate::rotate_key_file`]), which only verify and
/// unseal; a token naming a key it does not hold is invalid.
pub struct PasetoIssuer {
    current: HeldKey,
    retired: Vec<HeldKey>,
}

/// One key with its id and the exact footer bytes that name it.
struct HeldKey {
    key: SymmetricKey<V4>,
    key_id: String,
    /// The footer we write, compared in constant time with a token's footer to pick the key.
    footer: Vec<u8>,
}

impl HeldKey {
    fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
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
}

/// The PASERK local id (`k4.lid.…`) of the 32-byte key `bytes`.
pub(crate) fn key_id_of(bytes: &[u8]) -> Result<String, CryptoError> {
    HeldKey::new(bytes).map(|held| held.key_id)
}

impl PasetoIssuer {
    /// Loads the current key from `path`, creating a fresh random one (mode `0600`) when the
    /// file is absent, and the retired keys from [`crate::retired_keys_path`]`(path)` when
    /// that file exists. See the crate documentation for the formats.
    ///
    /// # Errors
    /// [`CryptoError`] when a file cannot be read or created, or holds no valid key.
    pub fn from_key_file(path: &Path) -> Result<Self, CryptoError> {
        let key = key_file::load_or_create(path)?;
        let mut issuer = Self::from_key_bytes(&key)?;
        for retired in keyring::read(&keyring::retired_keys_path(path))? {
            issuer = issuer.with_retired_key(&retired.key)?;
        }
        Ok(issuer)
    }

    /// Uses `bytes` as the current key, with no retired keys.
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] unless `bytes` is exactly 32 bytes long.
    pub fn from_key_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self { current: HeldKey::new(bytes)?, retired: Vec::new() })
    }

    /// Adds a retired key: tokens and sealed values naming it still open, nothing new is
    /// sealed with it. A key already held is not added twice.
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] unless `bytes` is exactly 32 bytes long.
    pub fn with_retired_key(mut self, bytes: &[u8]) -> Result<Self, CryptoError> {
        let held = HeldKey::new(bytes)?;
        if self.keys().all(|k| k.key_id != held.key_id) {
            self.retired.push(held);
        }
        Ok(self)
    }

    /// The PASERK local id of the current key (`k4.lid.…`): a hash of it, safe to log and
    /// publish.
    pub fn key_id(&self) -> &str {
        &self.current.key_id
    }

    /// The ids of the retired keys still accepted, oldest first.
    pub fn retired_key_ids(&self) -> impl Iterator<Item = &str> {
        self.retired.iter().map(|k| k.key_id.as_str())
    }

    fn keys(&self) -> impl Iterator<Item = &HeldKey> {
        std::iter::once(&self.current).chain(&self.retired)
    }

    /// Authenticates and decrypts `token` sealed for `assertion` with the key its footer names.
    fn open(&self, token: &str, assertion: &[u8]) -> Result<String, TokenError> {
        self.open_with(token, assertion, |key| {
            SymmetricKey::<V4>::from(key.as_bytes()).map_err(|_| TokenError::Invalid)
        })
    }

    /// [`Self::open`] with the key `derive` makes from the held key the footer names.
    fn open_with(
        &self,
        token: &str,
        assertion: &[u8],
        derive: impl FnOnce(&SymmetricKey<V4>) -> Result<SymmetricKey<V4>, TokenError>,
    ) -> Result<String, TokenError> {
        let untrusted = UntrustedToken::<Local, V4>::try_from(token).map_err(|_| TokenError::Invalid)?;
        let footer = untrusted.untrusted_footer();
        // Every held footer is compared, without stopping at the first match; the footer is
        // not secret, but this keeps timing independent of which key (if any) matched.
        let mut chosen = None;
        for held in self.keys() {
            if bool::from(held.footer.as_slice().ct_eq(footer)) && chosen.is_none() {
                chosen = Some(held);
            }
        }
        let held = chosen.ok_or(TokenError::Invalid)?;
        let key = derive(&held.key)?;
        // Passing the footer makes pasetors check it too; it is authenticated as part of the
        // token, so a footer naming a key other than the one that sealed the token fails.
        let trusted = LocalToken::decrypt(&key, &untrusted, Some(&held.footer), Some(assertion))
            .map_err(|_| TokenError::Invalid)?;
        Ok(trusted.payload().to_owned())
    }
}

impl std::fmt::Debug for PasetoIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasetoIssuer")
            .field("key_id", &self.current.key_id)
            .field("retired_key_ids", &self.retired_key_ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The key a value bound to `binding` is sealed with: HMAC-SHA256 of the binding under the
/// issuer key, domain-separated, so it exists only where both the key and the binding are.
fn sealing_key(key: &SymmetricKey<V4>, binding: &str) -> Result<SymmetricKey<V4>, pasetors::errors::Error> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .map_err(|_| pasetors::errors::Error::Key)?;
    mac.update(SEAL_KEY_LABEL);
    mac.update(binding.as_bytes());
    SymmetricKey::<V4>::from(&mac.finalize().into_bytes())
}

/// The `aal` claim; a token issued before second factors existed has none and was a
/// password sign-in.
fn assurance(claims: &Claims) -> Result<Aal, TokenError> {
    match claims.get_claim("aal") {
        None => Ok(Aal::One),
        Some(v) => v.as_u64().and_then(|n| u8::try_from(n).ok()).and_then(Aal::from_u8).ok_or(TokenError::Invalid),
    }
}

/// The `amr` claim (`["pwd"]` when absent, as [`assurance`]).
fn methods(claims: &Claims) -> Result<Vec<AuthMethod>, TokenError> {
    let Some(v) = claims.get_claim("amr") else { return Ok(vec![AuthMethod::Password]) };
    let names = v.as_array().ok_or(TokenError::Invalid)?;
    names.iter().map(|n| n.as_str().and_then(AuthMethod::parse).ok_or(TokenError::Invalid)).collect()
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
        sealed.add_additional("aal", claims.aal.as_u8()).map_err(issue_error)?;
        let amr: Vec<&str> = claims.amr.iter().map(|m| m.as_str()).collect();
        sealed.add_additional("amr", amr).map_err(issue_error)?;
        sealed.issued_at(&claims.issued_at.to_rfc3339()).map_err(issue_error)?;
        sealed.expiration(&claims.expires_at.to_rfc3339()).map_err(issue_error)?;
        sealed.token_identifier(&URL_SAFE_NO_PAD.encode(jti)).map_err(issue_error)?;

        let payload = sealed.to_string().map_err(issue_error)?;
        let held = &self.current;
        LocalToken::encrypt(&held.key, payload.as_bytes(), Some(&held.footer), Some(IMPLICIT_ASSERTION))
            .map_err(issue_error)
    }

    fn seal(&self, binding: &str, plaintext: &str) -> Result<String, TokenError> {
        let held = &self.current;
        let key = sealing_key(&held.key, binding).map_err(issue_error)?;
        // The footer names the issuer key the sealing key was derived from.
        LocalToken::encrypt(&key, plaintext.as_bytes(), Some(&held.footer), Some(SEAL_ASSERTION)).map_err(issue_error)
    }

    fn unseal(&self, binding: &str, sealed: &str) -> Result<String, TokenError> {
        self.open_with(sealed, SEAL_ASSERTION, |key| sealing_key(key, binding).map_err(|_| TokenError::Invalid))
    }

    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        let payload = self.open(token, IMPLICIT_ASSERTION)?;
        let claims = Claims::from_string(&payload).map_err(|_| TokenError::Invalid)?;
        let text = |name: &str| claims.get_claim(name).and_then(|v| v.as_str()).ok_or(TokenError::Invalid);
        let time = |name: &str| Timestamp::parse_rfc3339(text(name)?).map_err(|_| TokenError::Invalid);

        let access = AccessClaims {
            user_id: text("sub")?.parse().map_err(|_| TokenError::Invalid)?,
            session_id: text("sid")?.parse().map_err(|_| TokenError::Invalid)?,
            issued_at: time("iat")?,
            expires_at: time("exp")?,
            aal: assurance(&claims)?,
            amr: methods(&claims)?,
        };
        text("jti")?;
        // Checked only after the token proved authentic, so a forgery is never "expired".
        // Expired from `exp` on, matching `Session::is_live`.
        if now >= access.expires_at {
            return Err(TokenError::Expired);
        }
        // Not valid yet: issued in the future, or with a `nbf` still ahead (we write none,
        // but a token that carries one is held to it). Either needs the key to forge, so
        // this is hardening: a token minted ahead of time must not work before its time.
        let latest = now.plus(MAX_CLOCK_SKEW);
        let not_before = match claims.get_claim("nbf") {
            Some(_) => Some(time("nbf")?),
            None => None,
        };
        if access.issued_at > latest || not_before.is_some_and(|nbf| nbf > latest) {
            return Err(TokenError::Invalid);
        }
        Ok(access)
    }
}

#[cfg(test)]
#[path = "paseto_issuer_tests.rs"]
mod tests;
