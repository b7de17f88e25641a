//! The ceremonies against 1Password's `passkey-client` and `passkey-authenticator`: an
//! authenticator written independently of webauthn-rs (its own CBOR, COSE and signatures,
//! `none` attestation, backup flags set, discoverable credentials with user handles), driven
//! through its client's own origin and RP ID checks, as a browser would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use passkey_authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck, UserValidationMethod,
};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::rust_crypto::RustCryptoBackend;
use passkey_types::Passkey;
use passkey_types::ctap2::make_credential::{Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity};
use passkey_types::ctap2::{Aaguid, Ctap2Error, StatusCode};
use passkey_types::encoding::base64url;
use passkey_types::webauthn::{
    AuthenticatedPublicKeyCredential, CreatedPublicKeyCredential, CredentialCreationOptions, CredentialRequestOptions,
    PublicKeyCredentialDescriptor, UserVerificationRequirement,
};
use portcullis_domain::model::UserId;
use portcullis_domain::ports::{PasskeyCeremonies, PasskeyError, PasskeyOwner, PasskeyRefusal, RegisteredPasskey};
use portcullis_webauthn::{RelyingParty, WebauthnCeremonies};
use serde_json::{Value, json};
use url::Url;

const ORIGIN: &str = "http://localhost:8080";

fn ceremonies() -> WebauthnCeremonies {
    WebauthnCeremonies::new(&RelyingParty {
        id: "localhost".into(),
        name: "Portcullis".into(),
        origins: vec![ORIGIN.into()],
    })
    .expect("relying party")
}

/// The person at the authenticator: always present; verified (PIN, fingerprint) while the
/// shared flag says so.
struct Person {
    verified: Arc<AtomicBool>,
}

#[async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;
    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        _presence: bool,
        _verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence: true, verification: self.verified.load(Ordering::Relaxed) })
    }
    fn is_presence_enabled(&self) -> bool {
        true
    }
    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// Resident credentials, newest first, found without an allow list (an account picker that
/// always picks the newest).
#[derive(Default)]
struct Keychain(Vec<Passkey>);

#[async_trait]
impl CredentialStore for Keychain {
    type PasskeyItem = Passkey;
    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let found: Vec<Passkey> = self
            .0
            .iter()
            .rev()
            .filter(|p| p.rp_id == rp_id)
            .filter(|p| ids.is_none_or(|ids| ids.is_empty() || ids.iter().any(|d| d.id == p.credential_id)))
            .cloned()
            .collect();
        if found.is_empty() { Err(Ctap2Error::NoCredentials.into()) } else { Ok(found) }
    }
    async fn save_credential(
        &mut self,
        credential: Passkey,
        _user: PublicKeyCredentialUserEntity,
        _rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        self.0.push(credential);
        Ok(())
    }
    async fn update_credential(&mut self, credential: &Passkey) -> Result<(), StatusCode> {
        if let Some(stored) = self.0.iter_mut().find(|p| p.credential_id == credential.credential_id) {
            *stored = credential.clone();
        }
        Ok(())
    }
    async fn get_info(&self) -> StoreInfo {
        StoreInfo { discoverability: DiscoverabilitySupport::Full }
    }
}

type Device = Client<Keychain, Person, RustCryptoBackend, public_suffix::PublicSuffixList, ()>;

/// A device whose keys count their signatures (1, 2, 3...), and the switch of whether its
/// user verifies.
fn device(verified: bool) -> (Device, Arc<AtomicBool>) {
    let switch = Arc::new(AtomicBool::new(verified));
    let person = Person { verified: Arc::clone(&switch) };
    let mut authenticator = Authenticator::new(Aaguid::new_empty(), Keychain::default(), person, RustCryptoBackend);
    authenticator.set_make_credentials_with_signature_counter(true);
    (Client::new(authenticator).allows_insecure_localhost(true), switch)
}

fn registration_json(c: &CreatedPublicKeyCredential) -> Value {
    json!({
        "id": c.id, "rawId": base64url(&c.raw_id), "type": "public-key",
        "response": {
            "clientDataJSON": base64url(&c.response.client_data_json),
            "attestationObject": base64url(&c.response.attestation_object),
            "transports": c.response.transports,
        },
        "authenticatorAttachment": "platform",
        "clientExtensionResults": c.client_extension_results,
    })
}

fn assertion_json(a: &AuthenticatedPublicKeyCredential) -> Value {
    json!({
        "id": a.id, "rawId": base64url(&a.raw_id), "type": "public-key",
        "response": {
            "clientDataJSON": base64url(&a.response.client_data_json),
            "authenticatorData": base64url(&a.response.authenticator_data),
            "signature": base64url(&a.response.signature),
            "userHandle": a.response.user_handle.as_ref().map(|h| base64url(h)),
        },
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
    })
}

fn owner(user_id: UserId) -> PasskeyOwner {
    PasskeyOwner { user_id, name: "ada@example.com".into(), display_name: "Ada".into() }
}

/// Registers a key of `device` at `origin`; the engine's verdict.
async fn register(
    rp: &WebauthnCeremonies,
    device: &mut Device,
    user: UserId,
    origin: &str,
) -> Result<RegisteredPasskey, PasskeyError> {
    let started = rp.start_registration(&owner(user), &[]).expect("start");
    let options: CredentialCreationOptions = serde_json::from_value(started.options.clone()).expect("options parse");
    let created =
        device.register(&Url::parse(origin).expect("url"), options, DefaultClientData).await.expect("created");
    rp.finish_registration(&started.state, &registration_json(&created))
}

/// Signs fresh discoverable request options with `device` at `origin`, user verification
/// as asked; the ceremony and the response.
async fn sign(
    rp: &WebauthnCeremonies,
    device: &mut Device,
    verify: UserVerificationRequirement,
    origin: &str,
) -> (portcullis_domain::ports::StartedCeremony, Value) {
    let started = rp.start_authentication(&[]).expect("start");
    let mut options: CredentialRequestOptions = serde_json::from_value(started.options.clone()).expect("options parse");
    options.public_key.user_verification = verify;
    let signed =
        device.authenticate(&Url::parse(origin).expect("url"), options, DefaultClientData).await.expect("signed");
    (started, assertion_json(&signed))
}

fn refusal(result: Result<impl std::fmt::Debug, PasskeyError>) -> PasskeyRefusal {
    match result {
        Err(PasskeyError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_discoverable_passkey_registers_and_signs_in_naming_its_user() {
    let rp = ceremonies();
    let (mut phone, _) = device(true);
    let user = UserId::new_v7();
    let registered = register(&rp, &mut phone, user, ORIGIN).await.expect("registered");
    // 1Password's authenticator says its keys are synced.
    assert!(registered.user_verified && registered.backed_up);

    let (started, response) = sign(&rp, &mut phone, UserVerificationRequirement::Preferred, ORIGIN).await;
    let claims = rp.claims(&response).expect("claims");
    assert_eq!(claims.challenge, started.challenge);
    assert_eq!(claims.credential_id, registered.credential_id);
    assert_eq!(claims.user_handle.as_deref(), Some(&user.as_uuid().as_bytes()[..]), "the resident key's user handle");
    let first = rp.finish_authentication(&started.state, &response, &registered.credential).expect("signed in");
    assert!(first.user_verified && first.backed_up);
    assert_eq!(first.counter, 1);
    let (started, response) = sign(&rp, &mut phone, UserVerificationRequirement::Preferred, ORIGIN).await;
    let second = rp.finish_authentication(&started.state, &response, &first.credential).expect("signed in");
    assert_eq!(second.counter, 2);
}

#[tokio::test]
async fn a_verified_passkey_must_keep_verifying_and_an_unverified_one_signs_in_unverified() {
    let rp = ceremonies();
    let (mut careless, _) = device(false);
    let mut options_user = UserId::new_v7();
    // A key without verification: registered and used as such.
    let started = rp.start_registration(&owner(options_user), &[]).expect("start");
    let mut options: CredentialCreationOptions = serde_json::from_value(started.options.clone()).expect("parse");
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.user_verification = UserVerificationRequirement::Discouraged;
    }
    let created =
        careless.register(&Url::parse(ORIGIN).expect("url"), options, DefaultClientData).await.expect("created");
    let registered = rp.finish_registration(&started.state, &registration_json(&created)).expect("registered");
    assert!(!registered.user_verified);
    let (started, response) = sign(&rp, &mut careless, UserVerificationRequirement::Discouraged, ORIGIN).await;
    let verified = rp.finish_authentication(&started.state, &response, &registered.credential).expect("signed in");
    assert!(!verified.user_verified);

    // A key that verified its user at registration, then answers without verifying.
    options_user = UserId::new_v7();
    let (mut phone, verifies) = device(true);
    let registered = register(&rp, &mut phone, options_user, ORIGIN).await.expect("registered");
    verifies.store(false, Ordering::Relaxed);
    let (started, response) = sign(&rp, &mut phone, UserVerificationRequirement::Discouraged, ORIGIN).await;
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &registered.credential)),
        PasskeyRefusal::UserNotVerified
    );
}

#[tokio::test]
async fn another_origin_is_refused() {
    let rp = ceremonies();
    let (mut phone, _) = device(true);
    // Another port on the same host: the client signs it (the RP ID matches), the server refuses.
    let refused = register(&rp, &mut phone, UserId::new_v7(), "http://localhost:9999").await;
    assert_eq!(refusal(refused), PasskeyRefusal::Origin);
    let registered = register(&rp, &mut phone, UserId::new_v7(), ORIGIN).await.expect("registered");
    let (started, response) =
        sign(&rp, &mut phone, UserVerificationRequirement::Preferred, "http://localhost:9999").await;
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &registered.credential)),
        PasskeyRefusal::Origin
    );
}

#[tokio::test]
async fn a_copied_key_whose_counter_fell_behind_is_refused() {
    let rp = ceremonies();
    let (mut phone, _) = device(true);
    let registered = register(&rp, &mut phone, UserId::new_v7(), ORIGIN).await.expect("registered");
    let mut credential = registered.credential.clone();
    for _ in 0..3 {
        let (started, response) = sign(&rp, &mut phone, UserVerificationRequirement::Preferred, ORIGIN).await;
        credential = rp.finish_authentication(&started.state, &response, &credential).expect("signed in").credential;
    }
    // A copy of the key taken before those three sign-ins.
    for key in &mut phone.authenticator_mut().store_mut().0 {
        key.counter = Some(1);
    }
    let (started, response) = sign(&rp, &mut phone, UserVerificationRequirement::Preferred, ORIGIN).await;
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &credential)),
        PasskeyRefusal::CounterWentBackwards
    );
}
