//! Starting inputs for each target, written by `portcullis-fuzz-seeds` into the corpus
//! directories before a run: well-formed examples let libFuzzer start from the shapes the
//! parsers accept instead of rediscovering JSON.

use portcullis_crypto::PasetoIssuer;
use portcullis_domain::ports::TokenIssuer;

/// The seed inputs of target `name` (none for an unknown name).
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    let texts: Vec<String> = match name {
        "request_bodies" => bodies(),
        "value_objects" => [
            "Ada@Example.com",
            " ada.lovelace+tag@example.co.uk ",
            "Ada Lovelace",
            "correct horse battery staple",
            "ｃｏｒｒｅｃｔ horse battery staple",
            "123456",
            "2026-03-08T04:46:25.344Z",
            "2026-03-08T04:46:25+02:00",
            "admin",
            "auth.login.success",
            "7kq2-m9xd-4hfw",
            "I0L0 O1I1—ZZZZ",
            "My phone",
        ]
        .map(str::to_owned)
        .to_vec(),
        "bearer_tokens" => {
            let token = PasetoIssuer::from_key_bytes(&crate::bearer::KEY)
                .ok()
                .and_then(|issuer| issuer.issue(&crate::bearer::seed_claims()).ok())
                .unwrap_or_default();
            vec![format!("Bearer {token}"), "bearer  v4.local.AAAA".to_owned(), "Basic YWRhOnB3".to_owned()]
        }
        "forwarded_for" => [
            "10.0.0.1\n10.0.0.0/8\n81.2.69.142, 10.0.0.7",
            "::ffff:127.0.0.1\n127.0.0.1/32, ::1/128\n[2001:db8::1]:443, 127.0.0.1",
            "203.0.113.9\n10.0.0.0/8\n1.2.3.4",
        ]
        .map(str::to_owned)
        .to_vec(),
        "query_strings" => [
            "limit=50&offset=0&filter=failure",
            "query=ada&status=deleted&limit=20",
            "from=2026-03-08T00:00:00Z&to=2026-03-09T00:00:00%2B02:00&action=auth.login.success",
            "user_id=0190f4c2-7a4e-7cc4-9b43-6f6f1c2a9d10&offset=9223372036854775807",
        ]
        .map(str::to_owned)
        .to_vec(),
        "passkey_responses" => {
            // Behind the selector byte: a registration (even) and an assertion (odd), for
            // a challenge of no live ceremony.
            let challenge = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
            return vec![
                [&[0u8][..], crate::passkeys::registration_response(challenge).to_string().as_bytes()].concat(),
                [&[1u8][..], crate::passkeys::assertion_response(challenge).to_string().as_bytes()].concat(),
            ];
        }
        _ => Vec::new(),
    };
    texts.into_iter().map(String::into_bytes).collect()
}

/// One well-formed body per body type, behind the byte that selects it.
fn bodies() -> Vec<String> {
    let examples = [
        r#"{"name":"Ada","email":"ada@example.com","password":"correct horse battery staple"}"#,
        r#"{"email":"ada@example.com","code":"123456"}"#,
        r#"{"email":"ada@example.com"}"#,
        r#"{"email":"ada@example.com","password":"pw","remember_me":true}"#,
        r#"{"event":"login","fingerprint":"abc"}"#,
        r#"{"refresh_token":"abcdef"}"#,
        r#"{"token":"abcdef"}"#,
        r#"{"email":"ada@example.com"}"#,
        r#"{"email":"ada@example.com","code":"123456","new_password":"correct horse battery staple"}"#,
        r#"{"current_password":"a","new_password":"correct horse battery staple"}"#,
        r#"{"password":"a"}"#,
        r#"{"name":"Ada","profile_picture":"https://example.com/a.png"}"#,
        r#"{"status":"suspended","reason":"spam"}"#,
        r#"{"roles":["admin","user"]}"#,
        r#"{"mfa_token":"abcdefabcdefabcdefabcdefabcdefabcdefabcdefa.1","factor":"recovery_code","code":"7KQ2 M9XD-4hfw"}"#,
        r#"{"password":"a","name":"Phone"}"#,
        r#"{"code":"123456"}"#,
        r#"{"password":"a"}"#,
        r#"{"name":"Laptop","credential":{"id":"AQI","rawId":"AQI","type":"public-key","response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQyJ9","attestationObject":"oA"}}}"#,
        r#"{"email":"ada@example.com"}"#,
        r#"{"url":"https://hooks.example.com/in?token=abc","events":["auth.login.failure","user.*"],"description":"siem"}"#,
        r#"{"url":"https://hooks.example.com/v2","events":["*"],"enabled":false}"#,
        r#"{"credential":{"id":"AQI","rawId":"AQI","type":"public-key","response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQyJ9","authenticatorData":"AA","signature":"AA","userHandle":null}},"remember_me":false}"#,
        r#"{"email":"ada@example.com"}"#,
        r#"{"email":"ada@example.com","code":"123456","remember_me":true}"#,
        r#"{"password":"a","new_email":"ada@example.org"}"#,
        r#"{"code":"123456"}"#,
        r#"{"token":"abcdef"}"#,
    ];
    debug_assert_eq!(examples.len(), crate::bodies::BODIES);
    examples.iter().enumerate().map(|(i, json)| format!("{}{json}", char::from(u8::try_from(i).unwrap_or(0)))).collect()
}

#[cfg(test)]
mod tests {
    use portcullis_crypto::PasetoIssuer;
    use portcullis_domain::model::Timestamp;
    use portcullis_domain::ports::TokenIssuer;

    use crate::bearer::{KEY, NOW_MILLIS, seed_claims};

    #[test]
    fn the_seed_token_opens_to_the_seed_claims_and_a_changed_one_does_not() {
        let header = String::from_utf8(super::seeds("bearer_tokens")[0].clone()).unwrap();
        let token = header.strip_prefix("Bearer ").unwrap();
        let issuer = PasetoIssuer::from_key_bytes(&KEY).unwrap();
        let now = Timestamp::from_unix_millis(NOW_MILLIS);
        assert_eq!(issuer.verify(token, now).unwrap(), seed_claims());
        let mut changed = token.to_owned().into_bytes();
        let last = changed.len() - 1;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        assert!(issuer.verify(std::str::from_utf8(&changed).unwrap(), now).is_err());
    }
}
