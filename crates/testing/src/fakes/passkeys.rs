//! [`FakePasskeys`]: the passkey ceremonies without cryptography, for use-case tests.

use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_domain::model::{CeremonyChallenge, CeremonyState, CredentialId, PasskeyCredential, UserId};
use portcullis_domain::ports::{
    PasskeyCeremonies, PasskeyError, PasskeyOwner, PasskeyRefusal, RegisteredPasskey, ResponseClaims, StartedCeremony,
    VerifiedAssertion,
};
use serde_json::{Value, json};

/// Numbers the challenges of every fake, so no two ceremonies share one.
static CHALLENGES: AtomicU64 = AtomicU64::new(1);

/// A ceremony engine whose "responses" are plain JSON written by
/// [`FakePasskeys::registration`] and [`FakePasskeys::assertion`]. It checks what the use
/// cases rely on an engine for: the challenge, the ceremony's type, user verification where
/// the credential was registered with it, and that the counter goes up. A response with
/// `"refuse": "<audit reason>"` (e.g. `"wrong_origin"`, `"bad_signature"`) fails with that
/// refusal, standing in for what only real cryptography could catch. The real engine is
/// `portcullis_webauthn::WebauthnCeremonies`, tested against software authenticators.
#[derive(Clone, Copy, Debug, Default)]
pub struct FakePasskeys;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn malformed(what: &str) -> PasskeyError {
    PasskeyError::Malformed(what.to_owned())
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a str, PasskeyError> {
    value.get(name).and_then(Value::as_str).ok_or_else(|| malformed(name))
}

fn refusal(reason: &str) -> PasskeyRefusal {
    [
        PasskeyRefusal::Origin,
        PasskeyRefusal::RpId,
        PasskeyRefusal::Challenge,
        PasskeyRefusal::CeremonyType,
        PasskeyRefusal::Signature,
        PasskeyRefusal::UserNotVerified,
        PasskeyRefusal::UserNotPresent,
        PasskeyRefusal::CounterWentBackwards,
        PasskeyRefusal::UnknownCredential,
    ]
    .into_iter()
    .find(|r| r.audit_reason() == reason)
    .unwrap_or(PasskeyRefusal::Other)
}

impl FakePasskeys {
    /// The response an authenticator would give to the creation `options` with a new
    /// credential `credential_id`, verifying the user or not.
    pub fn registration(options: &Value, credential_id: &[u8], user_verified: bool) -> Value {
        json!({
            "type": "webauthn.create",
            "challenge": options["publicKey"]["challenge"],
            "rawId": hex(credential_id),
            "user_verified": user_verified,
            "backed_up": false,
        })
    }

    /// The response an authenticator would give to the request `options` with
    /// `credential_id` at signature counter `counter`, with the user handle a discoverable
    /// credential returns.
    pub fn assertion(
        options: &Value,
        credential_id: &[u8],
        user_handle: Option<UserId>,
        counter: u32,
        user_verified: bool,
    ) -> Value {
        json!({
            "type": "webauthn.get",
            "challenge": options["publicKey"]["challenge"],
            "rawId": hex(credential_id),
            "userHandle": user_handle.map(|id| id.to_string()),
            "user_verified": user_verified,
            "counter": counter,
            "backed_up": false,
        })
    }

    /// `response` made to fail as a real engine would for `refusal`.
    pub fn refused(mut response: Value, refusal: PasskeyRefusal) -> Value {
        response["refuse"] = json!(refusal.audit_reason());
        response
    }

    fn start(options: Value, kind: &str) -> StartedCeremony {
        let challenge = format!("fake-challenge-{}", CHALLENGES.fetch_add(1, Ordering::Relaxed));
        let mut options = options;
        options["publicKey"]["challenge"] = json!(challenge);
        StartedCeremony {
            options,
            state: CeremonyState(json!({"challenge": challenge, "type": kind}).to_string()),
            challenge: CeremonyChallenge(challenge),
        }
    }

    /// Checks what every finish checks; the response's fields.
    fn check<'a>(state: &CeremonyState, response: &'a Value, kind: &str) -> Result<&'a Value, PasskeyError> {
        let state: Value =
            serde_json::from_str(&state.0).map_err(|e| PasskeyError::Internal(format!("fake state: {e}")))?;
        if !response.is_object() {
            return Err(malformed("not an object"));
        }
        if let Some(reason) = response.get("refuse").and_then(Value::as_str) {
            return Err(PasskeyError::Refused(refusal(reason)));
        }
        if field(response, "type")? != kind {
            return Err(PasskeyError::Refused(PasskeyRefusal::CeremonyType));
        }
        if response.get("challenge") != state.get("challenge") {
            return Err(PasskeyError::Refused(PasskeyRefusal::Challenge));
        }
        Ok(response)
    }
}

impl PasskeyCeremonies for FakePasskeys {
    fn start_registration(
        &self,
        owner: &PasskeyOwner,
        exclude: &[CredentialId],
    ) -> Result<StartedCeremony, PasskeyError> {
        let options = json!({"publicKey": {
            "rp": {"id": "example.com", "name": "Portcullis"},
            "user": {"id": owner.user_id.to_string(), "name": owner.name, "displayName": owner.display_name},
            "excludeCredentials": exclude.iter().map(|id| json!({"type": "public-key", "id": hex(id.as_bytes())})).collect::<Vec<_>>(),
            "authenticatorSelection": {"residentKey": "preferred", "userVerification": "preferred"},
        }});
        Ok(Self::start(options, "webauthn.create"))
    }

    fn finish_registration(&self, state: &CeremonyState, response: &Value) -> Result<RegisteredPasskey, PasskeyError> {
        let response = Self::check(state, response, "webauthn.create")?;
        let id = unhex(field(response, "rawId")?).ok_or_else(|| malformed("rawId"))?;
        let user_verified = response.get("user_verified").and_then(Value::as_bool).unwrap_or(false);
        Ok(RegisteredPasskey {
            credential: PasskeyCredential(json!({"id": hex(&id), "counter": 0, "uv": user_verified}).to_string()),
            credential_id: CredentialId::new(id).map_err(|e| malformed(&e.to_string()))?,
            user_verified,
            backed_up: response.get("backed_up").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    fn start_authentication(&self, allow: &[PasskeyCredential]) -> Result<StartedCeremony, PasskeyError> {
        let ids = allow
            .iter()
            .map(|c| {
                let stored: Value =
                    serde_json::from_str(&c.0).map_err(|e| PasskeyError::Internal(format!("fake credential: {e}")))?;
                Ok(json!({"type": "public-key", "id": stored["id"]}))
            })
            .collect::<Result<Vec<_>, PasskeyError>>()?;
        let options =
            json!({"publicKey": {"rpId": "example.com", "allowCredentials": ids, "userVerification": "preferred"}});
        Ok(Self::start(options, "webauthn.get"))
    }

    fn claims(&self, response: &Value) -> Result<ResponseClaims, PasskeyError> {
        let id = unhex(field(response, "rawId")?).ok_or_else(|| malformed("rawId"))?;
        let user_handle = match response.get("userHandle") {
            None | Some(Value::Null) => None,
            Some(Value::String(handle)) => {
                let id: UserId = handle.parse().map_err(|_| malformed("userHandle"))?;
                Some(id.as_uuid().as_bytes().to_vec())
            }
            Some(_) => return Err(malformed("userHandle")),
        };
        Ok(ResponseClaims {
            challenge: CeremonyChallenge(field(response, "challenge")?.to_owned()),
            credential_id: CredentialId::new(id).map_err(|e| malformed(&e.to_string()))?,
            user_handle,
        })
    }

    fn finish_authentication(
        &self,
        state: &CeremonyState,
        response: &Value,
        credential: &PasskeyCredential,
    ) -> Result<VerifiedAssertion, PasskeyError> {
        let response = Self::check(state, response, "webauthn.get")?;
        let stored: Value =
            serde_json::from_str(&credential.0).map_err(|e| PasskeyError::Internal(format!("fake credential: {e}")))?;
        if stored.get("id").and_then(Value::as_str) != Some(field(response, "rawId")?) {
            return Err(PasskeyError::Refused(PasskeyRefusal::UnknownCredential));
        }
        let user_verified = response.get("user_verified").and_then(Value::as_bool).unwrap_or(false);
        if stored["uv"] == true && !user_verified {
            return Err(PasskeyError::Refused(PasskeyRefusal::UserNotVerified));
        }
        let counter = response
            .get("counter")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| malformed("counter"))?;
        let seen = stored.get("counter").and_then(Value::as_u64).unwrap_or(0);
        if (counter > 0 || seen > 0) && u64::from(counter) <= seen {
            return Err(PasskeyError::Refused(PasskeyRefusal::CounterWentBackwards));
        }
        let mut updated = stored.clone();
        updated["counter"] = json!(counter);
        Ok(VerifiedAssertion {
            credential: PasskeyCredential(updated.to_string()),
            user_verified,
            backed_up: response.get("backed_up").and_then(Value::as_bool).unwrap_or(false),
            counter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_credential_signs_in_while_its_counter_goes_up() {
        let rp = FakePasskeys;
        let owner = PasskeyOwner { user_id: UserId::new_v7(), name: "a@example.com".into(), display_name: "A".into() };
        let started = rp.start_registration(&owner, &[]).expect("start");
        let response = FakePasskeys::registration(&started.options, b"key", true);
        assert_eq!(rp.claims(&response).expect("claims").challenge, started.challenge);
        let registered = rp.finish_registration(&started.state, &response).expect("registered");
        let login = rp.start_authentication(std::slice::from_ref(&registered.credential)).expect("start");
        assert_eq!(login.options["publicKey"]["allowCredentials"][0]["id"], hex(b"key"));
        let assertion = FakePasskeys::assertion(&login.options, b"key", Some(owner.user_id), 3, true);
        let verified = rp.finish_authentication(&login.state, &assertion, &registered.credential).expect("ok");
        assert_eq!(verified.counter, 3);
        let again = rp.finish_authentication(&login.state, &assertion, &verified.credential);
        assert!(matches!(again, Err(PasskeyError::Refused(PasskeyRefusal::CounterWentBackwards))));
        let unverified = FakePasskeys::assertion(&login.options, b"key", None, 4, false);
        let refused = rp.finish_authentication(&login.state, &unverified, &verified.credential);
        assert!(matches!(refused, Err(PasskeyError::Refused(PasskeyRefusal::UserNotVerified))));
        let other = rp.start_authentication(&[]).expect("start");
        let refused = rp.finish_authentication(&other.state, &assertion, &registered.credential);
        assert!(matches!(refused, Err(PasskeyError::Refused(PasskeyRefusal::Challenge))));
        let forced = FakePasskeys::refused(assertion, PasskeyRefusal::Origin);
        let refused = rp.finish_authentication(&login.state, &forced, &registered.credential);
        assert!(matches!(refused, Err(PasskeyError::Refused(PasskeyRefusal::Origin))));
    }
}
