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
/// ceremony is finished or expires; the client never sees it. `Debug` shows its length only
/// (it holds the challenge).
#[derive(Clone, PartialEq, Eq)]
pub struct CeremonyState(pub String);

impl std::fmt::Debug for CeremonyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CeremonyState({} bytes)", self.0.len())
    }
}

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

/// A passkey of an account: the credential of a [`super::FactorKind::Webauthn`] factor,
/// which carries its name and dates. Active from the start: the registration ceremony itself
/// proved the authenticator holds the key.
#[derive(Clone, Debug, PartialEq)]
pub struct Passkey {
    /// The factor it belongs to (deleting the factor deletes it).
    pub factor_id: super::FactorId,
    /// Owner; also the user handle a discoverable credential answers with.
    pub user_id: super::UserId,
    /// Unique across all accounts: one authenticator credential signs one account in.
    pub credential_id: CredentialId,
    /// The engine's record of it.
    pub credential: PasskeyCredential,
    /// The last signature counter accepted (0 for authenticators that keep none, as most
    /// synced passkeys). The sign-in that stores a new one names this value, so of two racing
    /// assertions checked against one non-zero counter one commits; what makes any response
    /// single use is its ceremony, which is handed out once.
    pub sign_count: u32,
    /// The user was verified at registration (so every sign-in must verify them).
    pub user_verified: bool,
    /// Synced to other devices, as of its last use.
    pub backed_up: bool,
    /// Set when a counter went backwards (a cloned authenticator): it signs nobody in again,
    /// but still counts as the account's second factor, so a clone cannot downgrade the
    /// account to a password alone.
    pub disabled_at: Option<super::Timestamp>,
}

/// What a stored ceremony was started for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey to the signed-in `user_id`'s account.
    Registration,
    /// A sign-in without a password (`user_id` set when an address was given).
    SignIn,
    /// The second step after a password, bound to one `mfa_token`.
    SecondFactor,
}

impl CeremonyPurpose {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
        }
    }
    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registration" => Some(Self::Registration),
            "sign_in" => Some(Self::SignIn),
            "second_factor" => Some(Self::SecondFactor),
            _ => None,
        }
    }
}

/// A ceremony waiting for its response. Single-use: the store hands it out once
/// ([`crate::ports::FactorRepository::take_ceremony`]), to whichever instance asks first.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCeremony {
    /// Keyed digest of its challenge.
    pub digest: super::SecretDigest,
    /// What it is for.
    pub purpose: CeremonyPurpose,
    /// The account it is for, when known.
    pub user_id: Option<super::UserId>,
    /// What the ceremony is bound to, as a keyed digest: the `mfa_token` a
    /// [`CeremonyPurpose::SecondFactor`] ceremony answers, or the address a
    /// [`CeremonyPurpose::SignIn`] was asked for (then only `user_id`'s passkeys pass, and
    /// none when the address is unknown).
    pub binding: Option<super::SecretDigest>,
    /// The engine's state.
    pub state: CeremonyState,
    /// When it was started.
    pub created_at: super::Timestamp,
    /// When it stops being accepted.
    pub expires_at: super::Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids_are_bounded_and_show_a_prefix() {
        assert!(CredentialId::new(Vec::new()).is_err());
        assert!(CredentialId::new(vec![1; CredentialId::MAX_BYTES + 1]).is_err());
        let id = CredentialId::new(vec![0xab; 32]).expect("id");
        assert_eq!(format!("{id:?}"), "CredentialId(abababababababab…)");
        assert_eq!(format!("{:?}", CredentialId::new(vec![1, 2]).expect("id")), "CredentialId(0102)");
    }

    #[test]
    fn purposes_round_trip_and_challenges_stay_out_of_debug() {
        for purpose in [CeremonyPurpose::Registration, CeremonyPurpose::SignIn, CeremonyPurpose::SecondFactor] {
            assert_eq!(CeremonyPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(CeremonyPurpose::parse("login"), None);
        assert!(!format!("{:?}", CeremonyChallenge("secret-challenge".into())).contains("secret"));
    }
}
