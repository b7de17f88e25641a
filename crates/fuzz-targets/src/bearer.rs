//! Bearer tokens: the `Authorization` header's parsing, then the PASETO check.

use portcullis_crypto::PasetoIssuer;
use portcullis_domain::model::{SessionId, Timestamp, UserId};
use portcullis_domain::ports::{AccessClaims, TokenIssuer};
use portcullis_server::http::auth::bearer_token;
use uuid::Uuid;

/// The key of every token the target checks (and of the seed token).
pub(crate) const KEY: [u8; 32] = [7; 32];

/// When the target checks tokens: inside the seed token's lifetime.
pub(crate) const NOW_MILLIS: i64 = 1_800_000_000_000;

/// The claims of the one token that may pass: the seed's.
pub(crate) fn seed_claims() -> AccessClaims {
    AccessClaims {
        user_id: UserId::from_uuid(Uuid::from_u128(1)),
        session_id: SessionId::from_uuid(Uuid::from_u128(2)),
        issued_at: Timestamp::from_unix_millis(NOW_MILLIS - 60_000),
        expires_at: Timestamp::from_unix_millis(NOW_MILLIS + 600_000),
        aal: portcullis_domain::model::Aal::Two,
        amr: vec![portcullis_domain::model::AuthMethod::Password, portcullis_domain::model::AuthMethod::Totp],
    }
}

/// Reads the input as an `Authorization` header value and checks its token. Properties: no
/// panic; a parsed token is non-empty and trimmed; nothing opens but the seed's claims (the
/// fuzzer cannot forge a token without the key).
pub fn bearer_tokens(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let Some(token) = bearer_token(value) else { return };
    assert!(!token.is_empty() && token.trim() == token, "{token:?}");
    let Ok(issuer) = PasetoIssuer::from_key_bytes(&KEY) else { return };
    if let Ok(claims) = issuer.verify(token, Timestamp::from_unix_millis(NOW_MILLIS)) {
        assert_eq!(claims, seed_claims(), "a token nobody issued opened");
    }
}
