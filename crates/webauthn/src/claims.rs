//! What a response says about itself, read before anything in it is verified: the challenge
//! that names its ceremony, the credential, the user handle.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::model::{CeremonyChallenge, CredentialId};
use portcullis_domain::ports::{PasskeyError, ResponseClaims};
use serde_json::Value;

/// Longest `clientDataJSON` read (browsers send a few hundred bytes).
const MAX_CLIENT_DATA: usize = 4096;

fn malformed(what: &str) -> PasskeyError {
    PasskeyError::Malformed(what.to_owned())
}

/// base64url, padded or not (the engine accepts both; so must the lookup).
fn decode(field: &str, value: &str) -> Result<Vec<u8>, PasskeyError> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| PasskeyError::Malformed(format!("{field} is not base64url")))
}

/// Whether the client data says the ceremony ran in a frame of another origin
/// (`crossOrigin: true`). The engine refuses that at registration only; a sign-in in a
/// framed page (clickjacking) is refused here. Unreadable client data is `false`: the
/// engine refuses it anyway.
pub(crate) fn cross_origin(response: &Value) -> bool {
    let Some(client_data) = response.pointer("/response/clientDataJSON").and_then(Value::as_str) else {
        return false;
    };
    let Ok(bytes) = decode("clientDataJSON", client_data) else { return false };
    serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v.get("crossOrigin") == Some(&Value::Bool(true)))
}

/// Reads the claims of a registration or authentication response.
pub(crate) fn read(response: &Value) -> Result<ResponseClaims, PasskeyError> {
    let raw_id = response.get("rawId").and_then(Value::as_str).ok_or_else(|| malformed("rawId is missing"))?;
    let credential_id =
        CredentialId::new(decode("rawId", raw_id)?).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
    let inner = response.get("response").ok_or_else(|| malformed("response is missing"))?;
    let client_data =
        inner.get("clientDataJSON").and_then(Value::as_str).ok_or_else(|| malformed("clientDataJSON is missing"))?;
    if client_data.len() > MAX_CLIENT_DATA * 4 / 3 + 4 {
        return Err(malformed("clientDataJSON is too long"));
    }
    let client_data: Value = serde_json::from_slice(&decode("clientDataJSON", client_data)?)
        .map_err(|_| malformed("clientDataJSON is not JSON"))?;
    let challenge = client_data
        .get("challenge")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("clientDataJSON has no challenge"))?;
    // Canonical form: the options' encoding (unpadded), whatever the client sent.
    let challenge = CeremonyChallenge(URL_SAFE_NO_PAD.encode(decode("challenge", challenge)?));
    let user_handle = match inner.get("userHandle") {
        None | Some(Value::Null) => None,
        Some(Value::String(handle)) => Some(decode("userHandle", handle)?),
        Some(_) => return Err(malformed("userHandle is not a string")),
    };
    Ok(ResponseClaims { challenge, credential_id, user_handle })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn response(challenge: &str, handle: Value) -> Value {
        let client_data = json!({"type": "webauthn.get", "challenge": challenge, "origin": "https://example.com"});
        json!({
            "id": b64(b"cred"), "rawId": b64(b"cred"), "type": "public-key",
            "response": {"clientDataJSON": b64(client_data.to_string().as_bytes()), "userHandle": handle},
        })
    }

    #[test]
    fn reads_challenge_credential_and_handle_padded_or_not() {
        let claims = read(&response("AAEC", json!(b64(b"user")))).expect("claims");
        assert_eq!(claims.challenge.0, "AAEC");
        assert_eq!(claims.credential_id.as_bytes(), b"cred");
        assert_eq!(claims.user_handle.as_deref(), Some(&b"user"[..]));
        // A padded challenge names the same ceremony as the unpadded one.
        let padded = read(&response("AAE=", Value::Null)).expect("claims");
        assert_eq!((padded.challenge.0.as_str(), padded.user_handle), ("AAE", None));
    }

    #[test]
    fn a_framed_ceremony_is_seen() {
        let framed =
            json!({"type": "webauthn.get", "challenge": "AAEC", "origin": "https://example.com", "crossOrigin": true});
        let in_a_frame = json!({"rawId": "Y3JlZA", "response": {"clientDataJSON": b64(framed.to_string().as_bytes())}});
        assert!(cross_origin(&in_a_frame));
        assert!(!cross_origin(&response("AAEC", Value::Null)));
        assert!(!cross_origin(&json!({"response": {"clientDataJSON": "%%"}})));
    }

    #[test]
    fn refuses_what_is_not_a_response() {
        for bad in [
            json!({}),
            json!({"rawId": "", "response": {}}),
            json!({"rawId": "Y3JlZA", "response": {}}),
            json!({"rawId": "Y3JlZA", "response": {"clientDataJSON": "not base64!"}}),
            json!({"rawId": "Y3JlZA", "response": {"clientDataJSON": b64(b"[1]")}}),
            json!({"rawId": "Y3JlZA", "response": {"clientDataJSON": "A".repeat(10_000)}}),
            response("AAEC", json!(7)),
            response("+/", Value::Null),
        ] {
            assert!(matches!(read(&bad), Err(PasskeyError::Malformed(_))), "{bad}");
        }
    }
}
