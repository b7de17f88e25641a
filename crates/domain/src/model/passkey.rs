//! Passkeys (WebAuthn credentials) as the domain sees them: the ceremony engine's data kept
//! opaque, beside the few facts the rules read (whose credential, whether the user was
//! verified, whether it is synced).

/// The id an authenticator gave a credential (1 to 1023 bytes by the specification). Not a
/// secret: browsers send it in the clear, and the server lists it in `allowCredentials`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CredentialId(Vec<u8>);

/// The id is empty or longer than the specification allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a credential id has 1 to 1023 bytes")]
pub struct CredentialIdError;

impl CredentialId {
    /// Longest id the WebAuthn specification allows.
    pub const MAX_BYTES: usize = 1023;

    /// Checks the length.
    ///
    /// # Errors
    /// [`CredentialIdError`] when `bytes` is empty or longer than [`CredentialId::MAX_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, CredentialIdError> {
        if bytes.is_empty() || bytes.len() > Self::MAX_BYTES {
            return Err(CredentialIdError);
        }
        Ok(Self(bytes))
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CredentialId(")?;
        for byte in self.0.iter().take(8) {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "{})", if self.0.len() > 8 { "…" } else { "" })
    }
}

/// A registered credential as the ceremony engine serialised it: public key, algorithm,
/// signature counter, backup flags and the user-verification policy it was registered under.
/// Public data; the domain only stores it and hands it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyCredential(pub String);

/// What a ceremony's start must remember to check its finish (the challenge, the policy, the
/// credentials it allowed), serialised by the engine. It stays in the store until the
/// ceremony is finished or expires; the client never sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CeremonyState(pub String);

/// A ceremony's challenge as the client echoes it in its client data (base64url). The store
/// keeps only its keyed hash, under which the ceremony's state is found again: a login by a
/// discoverable credential carries nothing else that names its ceremony.
#[derive(Clone, PartialEq, Eq)]
pub struct CeremonyChallenge(pub String);

impl std::fmt::Debug for CeremonyChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CeremonyChallenge([REDACTED])")
    }
}
