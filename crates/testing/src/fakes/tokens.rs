//! [`FakeTokens`]: access tokens as readable text.

use std::str::FromStr;

use portcullis_domain::model::{Aal, AuthMethod, SessionId, Timestamp, UserId};
use portcullis_domain::ports::{AccessClaims, TokenError, TokenIssuer};

use super::hashers::sha256_hex;

/// A [`TokenIssuer`] writing the claims in clear:
/// `fake.{user}.{session}.{iat_ms}.{exp_ms}.{aal}.{amr joined by +}`.
/// It refuses anything else as [`TokenError::Invalid`] and a token at or past its expiry as
/// [`TokenError::Expired`]. There is no signature: tests only. "Sealed" values are the
/// plaintext behind `sealed:` and the SHA-256 of the binding, and open only with that binding.
#[derive(Clone, Copy, Debug, Default)]
pub struct FakeTokens;

/// What [`FakeTokens`] puts before a sealed value.
const SEALED_PREFIX: &str = "sealed:";

impl FakeTokens {
    fn parse(token: &str) -> Option<AccessClaims> {
        let mut parts = token.split('.');
        if parts.next()? != "fake" {
            return None;
        }
        let user_id = UserId::from_str(parts.next()?).ok()?;
        let session_id = SessionId::from_str(parts.next()?).ok()?;
        let issued_at = Timestamp::from_unix_millis(parts.next()?.parse().ok()?);
        let expires_at = Timestamp::from_unix_millis(parts.next()?.parse().ok()?);
        let aal = Aal::from_u8(parts.next()?.parse().ok()?)?;
        let amr = parts.next()?.split('+').map(AuthMethod::parse).collect::<Option<Vec<_>>>()?;
        if parts.next().is_some() {
            return None;
        }
        Some(AccessClaims { user_id, session_id, issued_at, expires_at, aal, amr })
    }
}

impl TokenIssuer for FakeTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let amr: Vec<&str> = claims.amr.iter().map(|m| m.as_str()).collect();
        Ok(format!(
            "fake.{}.{}.{}.{}.{}.{}",
            claims.user_id,
            claims.session_id,
            claims.issued_at.unix_millis(),
            claims.expires_at.unix_millis(),
            claims.aal.as_u8(),
            amr.join("+")
        ))
    }

    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        let claims = Self::parse(token).ok_or(TokenError::Invalid)?;
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn seal(&self, binding: &str, plaintext: &str) -> Result<String, TokenError> {
        Ok(format!("{SEALED_PREFIX}{}:{plaintext}", sha256_hex(binding.as_bytes())))
    }

    fn unseal(&self, binding: &str, sealed: &str) -> Result<String, TokenError> {
        let rest = sealed.strip_prefix(SEALED_PREFIX).ok_or(TokenError::Invalid)?;
        let (bound, plaintext) = rest.split_once(':').ok_or(TokenError::Invalid)?;
        if bound != sha256_hex(binding.as_bytes()) {
            return Err(TokenError::Invalid);
        }
        Ok(plaintext.to_owned())
    }
}
