//! The WebAuthn relying party's ceremonies: options for the browser out, its responses
//! checked. Pure computation; where challenges live and which credential belongs to whom is
//! the use cases' business (the store), so a ceremony started on one instance finishes on
//! any other.

use crate::model::{CeremonyChallenge, CeremonyState, CredentialId, PasskeyCredential, UserId};

/// The account a passkey is created for, as the authenticator will show it.
#[derive(Clone, Debug)]
pub struct PasskeyOwner {
    /// Becomes the credential's user handle (the 16 bytes of the UUID): what a discoverable
    /// credential answers with, so a login without a typed address finds the account.
    pub user_id: UserId,
    /// The account name the authenticator lists (the address).
    pub name: String,
    /// The name shown beside it.
    pub display_name: String,
}

/// A ceremony begun: what to send and what to keep.
#[derive(Clone, Debug)]
pub struct StartedCeremony {
    /// `{"publicKey": {...}}`: the WebAuthn JSON encoding of the options, ready for
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` (or `...RequestOptions...`).
    pub options: serde_json::Value,
    /// The challenge in those options.
    pub challenge: CeremonyChallenge,
    /// What the finish is checked against.
    pub state: CeremonyState,
}

/// What a response says about itself before anything in it is verified: enough to find the
/// ceremony it answers and the credential it names, nothing to trust.
#[derive(Clone, Debug)]
pub struct ResponseClaims {
    /// The challenge from the client data.
    pub challenge: CeremonyChallenge,
    /// The credential (`rawId`).
    pub credential_id: CredentialId,
    /// The user handle a discoverable credential returns (unsigned: it is checked against
    /// the credential's owner, never believed on its own).
    pub user_handle: Option<Vec<u8>>,
}

/// A credential that passed registration.
#[derive(Clone, Debug)]
pub struct RegisteredPasskey {
    /// Its id.
    pub credential_id: CredentialId,
    /// What to store.
    pub credential: PasskeyCredential,
    /// The authenticator verified the user (PIN, biometrics), so later assertions must too.
    pub user_verified: bool,
    /// The credential is synced to other devices (backup state).
    pub backed_up: bool,
}

/// An assertion that passed: signature, origin, RP ID, challenge, flags and counter.
#[derive(Clone, Debug)]
pub struct VerifiedAssertion {
    /// The credential with its new counter and flags, to store back.
    pub credential: PasskeyCredential,
    /// The authenticator verified the user: a session at aal 2.
    pub user_verified: bool,
    /// Synced (`swk` in `amr`) rather than bound to one device (`hwk`).
    pub backed_up: bool,
    /// The signature counter it reported (0 for authenticators that keep none).
    pub counter: u32,
}

/// Why a response was refused. Every one is a 400 `INVALID_CREDENTIAL` to the client; the
/// kind goes to the audit entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasskeyRefusal {
    /// The client data names an origin that is not allowed.
    Origin,
    /// The authenticator signed for another relying party id.
    RpId,
    /// The response answers another challenge than the ceremony's.
    Challenge,
    /// The response is a `create` where a `get` was expected, or the reverse.
    CeremonyType,
    /// The signature does not verify under the credential's public key.
    Signature,
    /// The user was not verified where the credential or the ceremony requires it.
    UserNotVerified,
    /// The authenticator did not report a user present.
    UserNotPresent,
    /// The signature counter did not go up: the credential may have been cloned.
    CounterWentBackwards,
    /// The credential is not one the ceremony allows (or was excluded at registration).
    UnknownCredential,
    /// Anything else the engine refused (attestation, algorithm, backup flags).
    Other,
}

impl PasskeyRefusal {
    /// The reason recorded in the audit entry.
    pub fn audit_reason(self) -> &'static str {
        match self {
            Self::Origin => "wrong_origin",
            Self::RpId => "wrong_rp_id",
            Self::Challenge => "wrong_challenge",
            Self::CeremonyType => "wrong_ceremony",
            Self::Signature => "bad_signature",
            Self::UserNotVerified => "user_not_verified",
            Self::UserNotPresent => "user_not_present",
            Self::CounterWentBackwards => "counter_went_backwards",
            Self::UnknownCredential => "unknown_credential",
            Self::Other => "refused_credential",
        }
    }
}

/// Why a ceremony step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The body is not a WebAuthn response (bad JSON shape, bad base64url, bad CBOR).
    #[error("not a WebAuthn credential: {0}")]
    Malformed(String),
    /// A well-formed response that does not pass.
    #[error("credential refused: {0:?}")]
    Refused(PasskeyRefusal),
    /// The engine failed on its own state (a stored state or credential that does not parse).
    #[error("passkey ceremony failed: {0}")]
    Internal(String),
}

/// The relying party's ceremonies (WebAuthn Level 3). The server's adapter is
/// `portcullis_webauthn::WebauthnCeremonies` (webauthn-rs); tests may use
/// `portcullis_testing::fakes::FakePasskeys`, whose "responses" are plain JSON.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PasskeyCeremonies: Send + Sync + 'static {
    /// Creation options for `owner`: resident key and user verification preferred, the
    /// `exclude`d credentials (the owner's own) refused by the authenticator.
    ///
    /// # Errors
    /// [`PasskeyError::Internal`] when the options cannot be made.
    fn start_registration(
        &self,
        owner: &PasskeyOwner,
        exclude: &[CredentialId],
    ) -> Result<StartedCeremony, PasskeyError>;
    /// Checks a registration response against the state of its ceremony.
    ///
    /// # Errors
    /// [`PasskeyError::Malformed`] or [`PasskeyError::Refused`].
    fn finish_registration(
        &self,
        state: &CeremonyState,
        response: &serde_json::Value,
    ) -> Result<RegisteredPasskey, PasskeyError>;
    /// Request options allowing the `allow`ed credentials; with none, for a discoverable
    /// credential (the user picks an account on the authenticator).
    ///
    /// # Errors
    /// [`PasskeyError::Internal`] when a stored credential does not parse.
    fn start_authentication(&self, allow: &[PasskeyCredential]) -> Result<StartedCeremony, PasskeyError>;
    /// Reads a response's challenge, credential id and user handle, verifying nothing.
    ///
    /// # Errors
    /// [`PasskeyError::Malformed`].
    fn claims(&self, response: &serde_json::Value) -> Result<ResponseClaims, PasskeyError>;
    /// Checks an assertion by `credential` against the state of its ceremony.
    ///
    /// # Errors
    /// [`PasskeyError::Malformed`] or [`PasskeyError::Refused`]
    /// ([`PasskeyRefusal::CounterWentBackwards`] among them).
    fn finish_authentication(
        &self,
        state: &CeremonyState,
        response: &serde_json::Value,
        credential: &PasskeyCredential,
    ) -> Result<VerifiedAssertion, PasskeyError>;
}
