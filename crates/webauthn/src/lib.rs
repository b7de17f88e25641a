//! [`PasskeyCeremonies`] on `webauthn-rs-core`: WebAuthn registration and assertion checks
//! (origin, RP ID hash, challenge, user presence and verification, signature, counter) with
//! pure-Rust cryptography. Stateless: the ceremony's state goes out as JSON for the store to
//! keep, so a ceremony started on one instance finishes on any other.

mod claims;
mod refusal;
mod relying_party;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::model::{CeremonyChallenge, CeremonyState, CredentialId, PasskeyCredential};
use portcullis_domain::ports::{
    PasskeyCeremonies, PasskeyError, PasskeyOwner, PasskeyRefusal, RegisteredPasskey, ResponseClaims, StartedCeremony,
    VerifiedAssertion,
};
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, COSEAlgorithm, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, RegistrationState, RequestRegistrationExtensions, ResidentKeyRequirement,
    UserVerificationPolicy,
};

pub use relying_party::{RelyingParty, RelyingPartyError};

/// The relying party's ceremonies.
///
/// User verification is *preferred* at registration and sign-in (contract section 9), so a
/// security key without a PIN still works, at assurance level 1. A credential whose
/// registration did verify the user must verify it from then on (the engine enforces it),
/// so a stolen phone cannot skip its lock screen.
#[derive(Clone)]
pub struct WebauthnCeremonies {
    core: WebauthnCore,
}

impl std::fmt::Debug for WebauthnCeremonies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebauthnCeremonies").field("origins", &self.core.get_allowed_origins()).finish()
    }
}

impl WebauthnCeremonies {
    /// The ceremonies of `rp`, checked by [`RelyingParty::check`].
    ///
    /// # Errors
    /// [`RelyingPartyError`] for an unusable configuration.
    pub fn new(rp: &RelyingParty) -> Result<Self, RelyingPartyError> {
        let origins = rp.check()?;
        let core = WebauthnCore::new_unsafe_experts_only(
            &rp.name,
            &rp.id,
            origins,
            relying_party::CEREMONY_TIMEOUT,
            Some(false),
            Some(false),
        );
        Ok(Self { core })
    }
}

fn internal(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Internal(e.to_string())
}

fn malformed(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Malformed(e.to_string())
}

fn challenge_of(bytes: &[u8]) -> CeremonyChallenge {
    CeremonyChallenge(URL_SAFE_NO_PAD.encode(bytes))
}

fn parse_credential(credential: &PasskeyCredential) -> Result<Credential, PasskeyError> {
    serde_json::from_str(&credential.0).map_err(internal)
}

fn store_credential(credential: &Credential) -> Result<PasskeyCredential, PasskeyError> {
    serde_json::to_string(credential).map(PasskeyCredential).map_err(internal)
}

impl PasskeyCeremonies for WebauthnCeremonies {
    fn start_registration(
        &self,
        owner: &PasskeyOwner,
        exclude: &[CredentialId],
    ) -> Result<StartedCeremony, PasskeyError> {
        let handle = owner.user_id.as_uuid();
        let builder = self
            .core
            .new_challenge_register_builder(handle.as_bytes(), &owner.name, &owner.display_name)
            .map_err(internal)?
            .attestation(AttestationConveyancePreference::None)
            .user_verification_policy(UserVerificationPolicy::Preferred)
            .require_resident_key(false)
            .exclude_credentials(Some(exclude.iter().map(|id| id.as_bytes().to_vec()).collect()))
            .credential_algorithms(COSEAlgorithm::secure_algs())
            // No credProtect: with user verification only preferred, "verification required"
            // protection would make the credential unusable on keys without a PIN.
            .extensions(Some(RequestRegistrationExtensions {
                cred_protect: None,
                uvm: Some(true),
                cred_props: Some(true),
                min_pin_length: None,
                hmac_create_secret: None,
            }));
        let (mut options, state) = self.core.generate_challenge_register(builder).map_err(internal)?;
        // The core can say only "required" or "discouraged"; the finish ignores the field.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        Ok(StartedCeremony {
            challenge: challenge_of(&options.public_key.challenge),
            options: serde_json::to_value(&options).map_err(internal)?,
            state: CeremonyState(serde_json::to_string(&state).map_err(internal)?),
        })
    }

    fn finish_registration(
        &self,
        state: &CeremonyState,
        response: &serde_json::Value,
    ) -> Result<RegisteredPasskey, PasskeyError> {
        let state: RegistrationState = serde_json::from_str(&state.0).map_err(internal)?;
        let response = RegisterPublicKeyCredential::deserialize_from(response)?;
        let credential = self.core.register_credential(&response, &state, None).map_err(refusal::classify)?;
        Ok(RegisteredPasskey {
            credential_id: CredentialId::new(credential.cred_id.clone()).map_err(malformed)?,
            user_verified: credential.user_verified,
            backed_up: credential.backup_state,
            credential: store_credential(&credential)?,
        })
    }

    fn start_authentication(&self, allow: &[PasskeyCredential]) -> Result<StartedCeremony, PasskeyError> {
        let credentials = allow.iter().map(parse_credential).collect::<Result<Vec<_>, _>>()?;
        let builder = self
            .core
            .new_challenge_authenticate_builder(credentials, Some(UserVerificationPolicy::Preferred))
            .map_err(internal)?;
        let (options, mut state) = self.core.generate_challenge_authenticate(builder).map_err(internal)?;
        // Only the challenge and policy are needed at the finish (the credential comes from
        // the store); the allowed credentials' copies would only bloat the stored state.
        state.set_allowed_credentials(Vec::new());
        Ok(StartedCeremony {
            challenge: challenge_of(&options.public_key.challenge),
            options: serde_json::to_value(&options).map_err(internal)?,
            state: CeremonyState(serde_json::to_string(&state).map_err(internal)?),
        })
    }

    fn claims(&self, response: &serde_json::Value) -> Result<ResponseClaims, PasskeyError> {
        claims::read(response)
    }

    fn finish_authentication(
        &self,
        state: &CeremonyState,
        response: &serde_json::Value,
        credential: &PasskeyCredential,
    ) -> Result<VerifiedAssertion, PasskeyError> {
        let state: AuthenticationState = serde_json::from_str(&state.0).map_err(internal)?;
        if claims::cross_origin(response) {
            return Err(PasskeyError::Refused(PasskeyRefusal::Origin));
        }
        let mut credential = parse_credential(credential)?;
        let response = PublicKeyCredential::deserialize_from(response)?;
        let result =
            self.core.authenticate_single_credential(&response, &state, &credential).map_err(refusal::classify)?;
        credential.counter = result.counter();
        credential.backup_state = result.backup_state();
        credential.backup_eligible = result.backup_eligible();
        Ok(VerifiedAssertion {
            credential: store_credential(&credential)?,
            user_verified: result.user_verified(),
            backed_up: result.backup_state(),
            counter: result.counter(),
        })
    }
}

/// Reading a WebAuthn JSON response into the engine's type, with a clear error.
trait DeserializeFrom: Sized {
    fn deserialize_from(value: &serde_json::Value) -> Result<Self, PasskeyError>;
}

impl<T: serde::de::DeserializeOwned> DeserializeFrom for T {
    fn deserialize_from(value: &serde_json::Value) -> Result<Self, PasskeyError> {
        T::deserialize(value).map_err(malformed)
    }
}
