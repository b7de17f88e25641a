//! Passkey responses through the engine's finish steps, against ceremonies started once per
//! process: what an attacker controls at `POST /users/me/passkeys` and
//! `POST /auth/passkey/login` after the claims are read. The finish steps parse base64url,
//! CBOR attestation objects, COSE keys and authenticator data; whatever the bytes, they must
//! refuse as the client's fault (`Malformed` or `Refused`, so a 400), never panic, never
//! fail as our own (`Internal`, a 500), and never accept a response nobody signed for the
//! ceremony's random challenge.
//!
//! The stored credential the assertions are checked against is registered here, at start,
//! from a response built byte by byte (a `none` attestation of a P-256 key), so that path
//! is also proven to work without any authenticator.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::model::{CeremonyState, PasskeyCredential, UserId};
use portcullis_domain::ports::{PasskeyCeremonies, PasskeyError, PasskeyOwner};
use portcullis_webauthn::{RelyingParty, WebauthnCeremonies};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8080";
/// 32 bytes: the credential id of the built response.
const CREDENTIAL_ID: &[u8; 32] = b"portcullis-fuzz-credential-id-01";
/// The P-256 base point: a valid public key (its private key is 1), so a COSE key built on
/// it parses and checks like any other.
const P256_X: [u8; 32] = [
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d,
    0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
];
const P256_Y: [u8; 32] = [
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
    0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
];

/// The engine and the ceremonies every input is finished against.
struct Fixture {
    engine: WebauthnCeremonies,
    registration: CeremonyState,
    authentication: CeremonyState,
    credential: PasskeyCredential,
}

/// Built once; a failure here is a broken harness, so it panics.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rp = RelyingParty { id: RP_ID.into(), name: "Fuzz".into(), origins: vec![ORIGIN.into()] };
        let engine = WebauthnCeremonies::new(&rp).expect("a valid relying party");
        let owner = PasskeyOwner {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            name: "fuzz@example.com".into(),
            display_name: "Fuzz".into(),
        };
        let first = engine.start_registration(&owner, &[]).expect("registration options");
        let registered = engine
            .finish_registration(&first.state, &registration_response(&first.challenge.0))
            .expect("the registration built byte by byte is accepted");
        let registration = engine.start_registration(&owner, &[]).expect("registration options").state;
        let authentication =
            engine.start_authentication(std::slice::from_ref(&registered.credential)).expect("request options").state;
        Fixture { engine, registration, authentication, credential: registered.credential }
    })
}

/// A CBOR byte-string head for `len` bytes.
fn cbor_bytes_head(len: usize) -> Vec<u8> {
    match u8::try_from(len) {
        Ok(short) if short < 24 => vec![0x40 | short],
        Ok(byte) => vec![0x58, byte],
        Err(_) => {
            let [hi, lo] = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
            vec![0x59, hi, lo]
        }
    }
}

/// A `RegistrationResponseJSON` for `challenge` (base64url) at [`ORIGIN`]: a `none`
/// attestation of [`CREDENTIAL_ID`] with the P-256 key above, user present and verified.
pub(crate) fn registration_response(challenge: &str) -> Value {
    let client_data =
        json!({"type": "webauthn.create", "challenge": challenge, "origin": ORIGIN, "crossOrigin": false}).to_string();
    // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
    let mut cose_key = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
    cose_key.extend_from_slice(&P256_X);
    cose_key.extend_from_slice(&[0x22, 0x58, 0x20]);
    cose_key.extend_from_slice(&P256_Y);
    let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    auth_data.push(0x45); // user present, user verified, attested credential data
    auth_data.extend_from_slice(&0u32.to_be_bytes()); // signature counter
    auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
    auth_data.extend_from_slice(&[0x00, 0x20]); // credential id length: 32
    auth_data.extend_from_slice(CREDENTIAL_ID);
    auth_data.extend_from_slice(&cose_key);
    // {"fmt": "none", "attStmt": {}, "authData": h'...'}
    let mut attestation = vec![0xa3, 0x63];
    attestation.extend_from_slice(b"fmt");
    attestation.push(0x64);
    attestation.extend_from_slice(b"none");
    attestation.push(0x67);
    attestation.extend_from_slice(b"attStmt");
    attestation.extend_from_slice(&[0xa0, 0x68]);
    attestation.extend_from_slice(b"authData");
    attestation.extend(cbor_bytes_head(auth_data.len()));
    attestation.extend_from_slice(&auth_data);
    public_key_credential(json!({
        "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
        "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
    }))
}

/// The `PublicKeyCredential` JSON of [`CREDENTIAL_ID`] around `response`.
fn public_key_credential(response: Value) -> Value {
    let id = URL_SAFE_NO_PAD.encode(CREDENTIAL_ID);
    json!({"id": id, "rawId": id, "type": "public-key", "response": response, "clientExtensionResults": {}})
}

/// An `AuthenticationResponseJSON` shaped like a real one for `challenge`, by
/// [`CREDENTIAL_ID`], whose signature is well-formed DER but not a valid signature.
pub(crate) fn assertion_response(challenge: &str) -> Value {
    let client_data = json!({"type": "webauthn.get", "challenge": challenge, "origin": ORIGIN}).to_string();
    let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    auth_data.push(0x05); // user present, user verified
    auth_data.extend_from_slice(&1u32.to_be_bytes());
    let signature = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
    public_key_credential(json!({
        "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
        "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
        "signature": URL_SAFE_NO_PAD.encode(signature),
        "userHandle": URL_SAFE_NO_PAD.encode(Uuid::from_u128(1).as_bytes()),
    }))
}

/// `data[0]` even: `data[1..]` as a registration response; odd: as an assertion by the
/// fixture's stored credential. Properties: no panic; refused as the client's fault only;
/// never accepted.
pub fn passkey_responses(data: &[u8]) {
    let Some((&selector, json)) = data.split_first() else { return };
    let Ok(response) = serde_json::from_slice::<Value>(json) else { return };
    let f = fixture();
    let result = if selector % 2 == 0 {
        f.engine.finish_registration(&f.registration, &response).map(|_| ())
    } else {
        f.engine.finish_authentication(&f.authentication, &response, &f.credential).map(|_| ())
    };
    match result {
        Err(PasskeyError::Malformed(_) | PasskeyError::Refused(_)) => {}
        Ok(()) => panic!("a response nobody signed for this ceremony's challenge was accepted"),
        Err(other) => panic!("a client's response failed as our own error: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_registration_is_accepted_and_hostile_responses_are_refused() {
        let f = fixture();
        let owner = PasskeyOwner {
            user_id: UserId::from_uuid(Uuid::from_u128(2)),
            name: "other@example.com".into(),
            display_name: "Other".into(),
        };
        let started = f.engine.start_registration(&owner, &[]).expect("options");
        let registered = f
            .engine
            .finish_registration(&started.state, &registration_response(&started.challenge.0))
            .expect("accepted");
        assert_eq!(registered.credential_id.as_bytes(), CREDENTIAL_ID);
        assert!(registered.user_verified && !registered.backed_up);
        // The shapes of real responses, for other challenges: refused, not failed.
        for (selector, response) in [(0u8, registration_response("AAAA")), (1, assertion_response("AAAA"))] {
            let mut input = vec![selector];
            input.extend(response.to_string().into_bytes());
            passkey_responses(&input);
        }
    }

    #[test]
    fn a_response_to_the_live_challenge_without_a_valid_signature_is_refused() {
        let f = fixture();
        let started = f.engine.start_authentication(std::slice::from_ref(&f.credential)).expect("options");
        let refused =
            f.engine.finish_authentication(&started.state, &assertion_response(&started.challenge.0), &f.credential);
        assert!(
            matches!(refused, Err(PasskeyError::Refused(portcullis_domain::ports::PasskeyRefusal::Signature))),
            "{refused:?}"
        );
    }

    #[test]
    fn cbor_heads_encode_lengths() {
        assert_eq!(cbor_bytes_head(5), [0x45]);
        assert_eq!(cbor_bytes_head(164), [0x58, 164]);
        assert_eq!(cbor_bytes_head(300), [0x59, 0x01, 0x2c]);
    }
}
