//! Sign-in sessions and the secrets that point at them.

use std::net::IpAddr;

use super::{Aal, AuthMethod, Device, Location, SessionId, Timestamp, UserId};

/// A keyed hash of a secret (verification code, refresh token, alert token).
/// Only this is stored; the secret itself leaves the server once, to its owner.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretDigest(Vec<u8>);

impl SecretDigest {
    /// Wraps digest bytes produced by a [`crate::ports::SecretHasher`].
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Constant-time equality, so a comparison leaks no prefix information.
    pub fn ct_eq(&self, other: &SecretDigest) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest([REDACTED])")
    }
}

/// A sign-in session.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Id carried in access tokens.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Digest of the current refresh token.
    pub refresh_token_hash: SecretDigest,
    /// Digest of the "Not you?" token mailed in the new-sign-in alert.
    pub alert_token_hash: Option<SecretDigest>,
    /// When that token stops working.
    pub alert_expires_at: Option<Timestamp>,
    /// Whether the user asked to stay signed in.
    pub remember_me: bool,
    /// Client IP at sign-in.
    pub ip_address: Option<IpAddr>,
    /// User agent at sign-in (truncated).
    pub user_agent: Option<String>,
    /// Parsed device.
    pub device: Device,
    /// Location at sign-in.
    pub location: Option<Location>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last time a token of this session was used.
    pub last_seen_at: Timestamp,
    /// When the session (and its refresh token) ends.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// How sure the sign-in was of the holder: [`Aal::Two`] after a second factor.
    pub aal: Aal,
    /// How the holder proved who they are, in the order they did (`["pwd", "otp"]`).
    pub amr: Vec<AuthMethod>,
}

impl Session {
    /// Live: not revoked and not expired at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What a refresh-token digest points at.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshHit {
    /// The session's current refresh token.
    Current,
    /// A token the session has already rotated away from.
    Spent {
        /// When it was exchanged.
        spent_at: Timestamp,
        /// The pair it was exchanged for, sealed by the [`crate::ports::TokenIssuer`], so
        /// parallel refreshes inside the grace window can all be answered with it.
        successor: String,
    },
}
