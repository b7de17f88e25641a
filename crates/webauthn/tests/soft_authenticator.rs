//! The ceremonies against a software authenticator (`webauthn-authenticator-rs`'s
//! `SoftPasskey`: ES256, packed self-attestation, a real counter) that signs real responses,
//! passed through the JSON encodings a browser would send.

use portcullis_domain::model::{CredentialId, PasskeyCredential, UserId};
use portcullis_domain::ports::{
    PasskeyCeremonies, PasskeyError, PasskeyOwner, PasskeyRefusal, RegisteredPasskey, StartedCeremony,
};
use portcullis_webauthn::{RelyingParty, WebauthnCeremonies};
use serde_json::{Value, json};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url, WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, UserVerificationPolicy};

const ORIGIN: &str = "https://app.example.com";

fn ceremonies() -> WebauthnCeremonies {
    WebauthnCeremonies::new(&RelyingParty {
        id: "example.com".into(),
        name: "Portcullis".into(),
        origins: vec![ORIGIN.into()],
    })
    .expect("relying party")
}

fn origin(url: &str) -> Url {
    Url::parse(url).expect("url")
}

fn owner(user_id: UserId) -> PasskeyOwner {
    PasskeyOwner { user_id, name: "ada@example.com".into(), display_name: "Ada".into() }
}

/// The creation options as the authenticator reads them, with the user verification a
/// browser would ask for (`SoftPasskey` verifies only when told "required").
fn creation(started: &StartedCeremony, verify_user: bool) -> CreationChallengeResponse {
    let mut options: CreationChallengeResponse = serde_json::from_value(started.options.clone()).expect("options");
    if verify_user && let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.user_verification = UserVerificationPolicy::Required;
    }
    options
}

fn request(started: &StartedCeremony, verify_user: bool) -> RequestChallengeResponse {
    let mut options: RequestChallengeResponse = serde_json::from_value(started.options.clone()).expect("options");
    if verify_user {
        options.public_key.user_verification = UserVerificationPolicy::Required;
    }
    options
}

/// Registers a passkey made by `authenticator` at `ORIGIN`.
fn register(rp: &WebauthnCeremonies, authenticator: &mut SoftPasskey, user: UserId, verify: bool) -> RegisteredPasskey {
    let started = rp.start_registration(&owner(user), &[]).expect("start");
    let response = authenticator.do_registration(origin(ORIGIN), creation(&started, verify)).expect("authenticator");
    let response = serde_json::to_value(&response).expect("json");
    assert_eq!(rp.claims(&response).expect("claims").challenge, started.challenge);
    rp.finish_registration(&started.state, &response).expect("registered")
}

/// An assertion by `authenticator` for a ceremony allowing `credential`.
fn assert_with(
    rp: &WebauthnCeremonies,
    authenticator: &mut SoftPasskey,
    credential: &PasskeyCredential,
    verify: bool,
) -> (StartedCeremony, Value) {
    let started = rp.start_authentication(std::slice::from_ref(credential)).expect("start");
    let response = authenticator.do_authentication(origin(ORIGIN), request(&started, verify)).expect("authenticator");
    (started, serde_json::to_value(&response).expect("json"))
}

fn refusal(result: Result<impl std::fmt::Debug, PasskeyError>) -> PasskeyRefusal {
    match result {
        Err(PasskeyError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn options_ask_for_what_the_contract_says() {
    let rp = ceremonies();
    let excluded = CredentialId::new(vec![7; 16]).expect("id");
    let user = UserId::new_v7();
    let started = rp.start_registration(&owner(user), std::slice::from_ref(&excluded)).expect("start");
    let options = &started.options["publicKey"];
    assert_eq!(options["rp"], json!({"id": "example.com", "name": "Portcullis"}));
    assert_eq!(options["user"]["name"], "ada@example.com");
    assert_eq!(options["challenge"], started.challenge.0.as_str());
    assert_eq!(options["authenticatorSelection"]["residentKey"], "preferred");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "preferred");
    assert_eq!(options["excludeCredentials"], json!([{"type": "public-key", "id": "BwcHBwcHBwcHBwcHBwcHBw"}]));
    assert_eq!(options["attestation"], "none");
    assert!(options.get("credentialProtectionPolicy").is_none() && options["extensions"]["credProps"] == true);
    // Every ceremony has its own challenge.
    let again = rp.start_registration(&owner(user), &[]).expect("start");
    assert_ne!(again.challenge, started.challenge);

    let discoverable = rp.start_authentication(&[]).expect("start");
    let options = &discoverable.options["publicKey"];
    assert_eq!(
        (options["rpId"].as_str(), options["userVerification"].as_str()),
        (Some("example.com"), Some("preferred"))
    );
    assert_eq!(options["allowCredentials"], json!([]));
    assert!(discoverable.options.get("mediation").is_none());
}

#[test]
fn a_verified_passkey_signs_in_and_its_counter_moves_on() {
    let rp = ceremonies();
    let mut authenticator = SoftPasskey::new(true);
    let registered = register(&rp, &mut authenticator, UserId::new_v7(), true);
    assert!(registered.user_verified && !registered.backed_up);

    let (started, response) = assert_with(&rp, &mut authenticator, &registered.credential, true);
    let claims = rp.claims(&response).expect("claims");
    assert_eq!((claims.challenge, claims.credential_id), (started.challenge.clone(), registered.credential_id.clone()));
    let first = rp.finish_authentication(&started.state, &response, &registered.credential).expect("signed in");
    assert!(first.user_verified && !first.backed_up);
    assert_eq!(first.counter, 1);

    // The stored credential carries the new counter: the same response again is a replay.
    let replay = rp.finish_authentication(&started.state, &response, &first.credential);
    assert_eq!(refusal(replay), PasskeyRefusal::CounterWentBackwards);
    let (started, response) = assert_with(&rp, &mut authenticator, &first.credential, true);
    let second = rp.finish_authentication(&started.state, &response, &first.credential).expect("signed in");
    assert_eq!(second.counter, 2);
}

#[test]
fn a_counter_that_went_backwards_is_refused() {
    let rp = ceremonies();
    let mut authenticator = SoftPasskey::new(true);
    let registered = register(&rp, &mut authenticator, UserId::new_v7(), true);
    // The server has seen a later signature than this authenticator's next: a clone.
    let mut stored: Value = serde_json::from_str(&registered.credential.0).expect("json");
    stored["counter"] = json!(1000);
    let seen_more = PasskeyCredential(stored.to_string());
    let (started, response) = assert_with(&rp, &mut authenticator, &seen_more, true);
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &seen_more)),
        PasskeyRefusal::CounterWentBackwards
    );
}

#[test]
fn a_key_without_verification_signs_in_unverified_but_a_verified_one_must_verify() {
    let rp = ceremonies();
    let mut unverified = SoftPasskey::new(true);
    let registered = register(&rp, &mut unverified, UserId::new_v7(), false);
    assert!(!registered.user_verified);
    let (started, response) = assert_with(&rp, &mut unverified, &registered.credential, false);
    let outcome = rp.finish_authentication(&started.state, &response, &registered.credential).expect("signed in");
    assert!(!outcome.user_verified);

    // Registered with verification: an assertion without it is refused.
    let mut verified = SoftPasskey::new(true);
    let registered = register(&rp, &mut verified, UserId::new_v7(), true);
    let (started, response) = assert_with(&rp, &mut verified, &registered.credential, false);
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &registered.credential)),
        PasskeyRefusal::UserNotVerified
    );
}

#[test]
fn another_origin_or_rp_id_is_refused() {
    let rp = ceremonies();
    let mut authenticator = SoftPasskey::new(true);
    let user = UserId::new_v7();

    // A sibling site under the same RP ID (the browser would sign for it).
    let started = rp.start_registration(&owner(user), &[]).expect("start");
    let response =
        authenticator.do_registration(origin("https://evil.example.com"), creation(&started, true)).expect("signed");
    let response = serde_json::to_value(&response).expect("json");
    assert_eq!(refusal(rp.finish_registration(&started.state, &response)), PasskeyRefusal::Origin);

    // The allowed origin, but the authenticator signed for another RP ID.
    let started = rp.start_registration(&owner(user), &[]).expect("start");
    let mut options = creation(&started, true);
    options.public_key.rp.id = "app.example.com".into();
    let response =
        serde_json::to_value(authenticator.do_registration(origin(ORIGIN), options).expect("signed")).expect("json");
    assert_eq!(refusal(rp.finish_registration(&started.state, &response)), PasskeyRefusal::RpId);

    // The same two at sign-in.
    let registered = register(&rp, &mut authenticator, user, true);
    let started = rp.start_authentication(std::slice::from_ref(&registered.credential)).expect("start");
    let response =
        authenticator.do_authentication(origin("https://evil.example.com"), request(&started, true)).expect("signed");
    let response = serde_json::to_value(&response).expect("json");
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &registered.credential)),
        PasskeyRefusal::Origin
    );
    let started = rp.start_authentication(std::slice::from_ref(&registered.credential)).expect("start");
    let mut options = request(&started, true);
    options.public_key.rp_id = "app.example.com".into();
    let response =
        serde_json::to_value(authenticator.do_authentication(origin(ORIGIN), options).expect("signed")).expect("json");
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &registered.credential)),
        PasskeyRefusal::RpId
    );
}

#[test]
fn a_tampered_signature_another_challenge_or_another_credential_is_refused() {
    let rp = ceremonies();
    let mut authenticator = SoftPasskey::new(true);
    let registered = register(&rp, &mut authenticator, UserId::new_v7(), true);

    let started = rp.start_authentication(std::slice::from_ref(&registered.credential)).expect("start");
    let mut signed: PublicKeyCredential =
        authenticator.do_authentication(origin(ORIGIN), request(&started, true)).expect("signed");
    let last = signed.response.signature.len() - 1;
    signed.response.signature[last] ^= 1;
    let tampered = serde_json::to_value(&signed).expect("json");
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &tampered, &registered.credential)),
        PasskeyRefusal::Signature
    );

    // A response to one ceremony checked against another's state.
    let (_, response) = assert_with(&rp, &mut authenticator, &registered.credential, true);
    let other = rp.start_authentication(std::slice::from_ref(&registered.credential)).expect("start");
    assert_eq!(
        refusal(rp.finish_authentication(&other.state, &response, &registered.credential)),
        PasskeyRefusal::Challenge
    );

    // A response by one credential checked against another's key.
    let mut stranger = SoftPasskey::new(true);
    let theirs = register(&rp, &mut stranger, UserId::new_v7(), true);
    let (started, response) = assert_with(&rp, &mut authenticator, &registered.credential, true);
    assert_eq!(
        refusal(rp.finish_authentication(&started.state, &response, &theirs.credential)),
        PasskeyRefusal::UnknownCredential
    );

    // A registration response offered as a sign-in, and the reverse.
    let registration = rp.start_registration(&owner(UserId::new_v7()), &[]).expect("start");
    let created = serde_json::to_value(
        authenticator.do_registration(origin(ORIGIN), creation(&registration, true)).expect("signed"),
    )
    .expect("json");
    assert!(rp.finish_authentication(&started.state, &created, &registered.credential).is_err());
    let (started, response) = assert_with(&rp, &mut authenticator, &registered.credential, true);
    assert!(rp.finish_registration(&registration.state, &response).is_err());
    assert!(rp.finish_authentication(&started.state, &response, &registered.credential).is_ok());
}

#[test]
fn a_discoverable_credential_names_its_user_and_signs_in() {
    let rp = ceremonies();
    let mut authenticator = SoftPasskey::new(true);
    let user = UserId::new_v7();
    let registered = register(&rp, &mut authenticator, user, true);
    let started = rp.start_authentication(&[]).expect("start");
    // SoftPasskey keeps no resident keys: the browser's account picker is played here by
    // naming the credential, and the user handle a resident key returns is added.
    let mut options = request(&started, true);
    options.public_key.allow_credentials.push(AllowCredentials {
        type_: "public-key".into(),
        id: registered.credential_id.as_bytes().to_vec(),
        transports: None,
    });
    let mut signed = authenticator.do_authentication(origin(ORIGIN), options).expect("signed");
    signed.response.user_handle = Some(user.as_uuid().as_bytes().to_vec());
    let response = serde_json::to_value(&signed).expect("json");
    let claims = rp.claims(&response).expect("claims");
    assert_eq!(claims.user_handle.as_deref(), Some(&user.as_uuid().as_bytes()[..]));
    assert_eq!(claims.challenge, started.challenge);
    let outcome = rp.finish_authentication(&started.state, &response, &registered.credential).expect("signed in");
    assert!(outcome.user_verified);
}

#[test]
fn broken_bodies_and_states_are_told_apart() {
    let rp = ceremonies();
    let started = rp.start_registration(&owner(UserId::new_v7()), &[]).expect("start");
    for body in [json!({}), json!({"id": "x", "rawId": "x", "type": "public-key", "response": {}}), json!([1, 2])] {
        assert!(matches!(rp.finish_registration(&started.state, &body), Err(PasskeyError::Malformed(_))), "{body}");
        assert!(matches!(rp.claims(&body), Err(PasskeyError::Malformed(_))), "{body}");
    }
    let state = portcullis_domain::model::CeremonyState("not a state".into());
    assert!(matches!(rp.finish_registration(&state, &json!({})), Err(PasskeyError::Internal(_))));
    assert!(matches!(rp.start_authentication(&[PasskeyCredential("{}".into())]), Err(PasskeyError::Internal(_))));
}
