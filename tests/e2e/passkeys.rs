//! Section 9 over HTTP on both stores, with a software authenticator (`SoftPasskey`) signing
//! real WebAuthn responses against the server's real checks: a passkey added as a second
//! factor, a sign-in without a password, refusals, and one assertion raced on two instances.

use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp};
use serde_json::json;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url, WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, UserVerificationPolicy};

/// The origin of the default `[webauthn]` settings (`make run`'s).
const ORIGIN: &str = "http://localhost:8080";

fn url(origin: &str) -> Url {
    Url::parse(origin).unwrap()
}

/// Adds a passkey made by `authenticator` at `origin` to the account of `token`; the
/// server's answer and the credential id.
async fn add_passkey(app: &TestApp, token: &str, authenticator: &mut SoftPasskey, origin: &str) -> (Resp, Vec<u8>) {
    let options = app
        .call("POST", "/api/v1/users/me/passkeys/options", Some(json!({"password": PASSWORD})), Some(token), &[])
        .await;
    assert_eq!(options.status, 200, "{options:?}");
    let mut request: CreationChallengeResponse = serde_json::from_value(json!({"publicKey": options.body})).unwrap();
    // What a browser with a PIN or a fingerprint does; SoftPasskey verifies only when told.
    request.public_key.authenticator_selection.as_mut().unwrap().user_verification = UserVerificationPolicy::Required;
    let credential = authenticator.do_registration(url(origin), request).unwrap();
    let id = credential.raw_id.clone();
    let body = json!({"name": "Laptop", "credential": serde_json::to_value(&credential).unwrap()});
    (app.call("POST", "/api/v1/users/me/passkeys", Some(body), Some(token), &[]).await, id)
}

/// An assertion by `authenticator` with credential `id` for fresh sign-in options, carrying
/// `user_id` as its user handle (what a discoverable credential returns; SoftPasskey keeps
/// no resident keys, so the account picker is played here).
async fn assertion(app: &TestApp, authenticator: &mut SoftPasskey, id: &[u8], user_id: &str) -> PublicKeyCredential {
    let options = app.post("/api/v1/auth/passkey/options", json!({})).await;
    assert_eq!(options.status, 200, "{options:?}");
    assert_eq!(options.body["allowCredentials"], json!([]), "no credential is ever listed");
    let mut request: RequestChallengeResponse = serde_json::from_value(json!({"publicKey": options.body})).unwrap();
    request.public_key.user_verification = UserVerificationPolicy::Required;
    request.public_key.allow_credentials.push(AllowCredentials {
        type_: "public-key".into(),
        id: id.to_vec(),
        transports: None,
    });
    let mut signed = authenticator.do_authentication(url(ORIGIN), request).unwrap();
    let handle: [u8; 16] = uuid_bytes(user_id);
    signed.response.user_handle = Some(handle.to_vec());
    signed
}

/// The 16 bytes of a hyphenated UUID.
fn uuid_bytes(id: &str) -> [u8; 16] {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    bytes
}

async fn sign_in(app: &TestApp, credential: &PublicKeyCredential) -> Resp {
    app.post("/api/v1/auth/passkey/login", json!({"credential": serde_json::to_value(credential).unwrap()})).await
}

async fn a_passkey_is_added_as_a_factor_and_signs_in_without_a_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "pk@example.com";
    let login = app.verified_login(email).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let user_id = login.body["data"]["id"].as_str().unwrap().to_owned();
    let mut authenticator = SoftPasskey::new(true);

    let (added, id) = add_passkey(&app, &token, &mut authenticator, ORIGIN).await;
    assert_eq!(added.status, 201, "{added:?}");
    assert_eq!((added.body["type"].as_str(), added.body["name"].as_str()), (Some("webauthn"), Some("Laptop")));
    assert_eq!(added.body["backed_up"], false);
    assert_eq!(added.body["recovery_codes"].as_array().map(Vec::len), Some(10));
    app.login(email, PASSWORD).await.assert_problem(403, "MFA_REQUIRED");

    let credential = assertion(&app, &mut authenticator, &id, &user_id).await;
    let signed_in = sign_in(&app, &credential).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(signed_in.body["data"]["email"], email);
    let strong = signed_in.body["access_token"].as_str().unwrap();
    let sessions = app.get("/api/v1/auth/sessions", Some(strong)).await;
    let current = sessions.body["data"]["sessions"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
    assert_eq!((current["aal"].clone(), current["amr"].clone()), (json!(2), json!(["hwk"])));
    let history = app.get("/api/v1/auth/login-history?filter=success", Some(strong)).await;
    assert_eq!(history.body["data"]["history"][0]["metadata"]["method"], "passkey", "{history:?}");
    // The same assertion again: its challenge is spent.
    sign_in(&app, &credential).await.assert_problem(400, "INVALID_CREDENTIAL");
    // Both counted, apart from password logins.
    let metrics = app.get("/metrics", None).await.text;
    for line in [
        r#"portcullis_passkey_logins_total{outcome="success",reason="none"} 1"#,
        r#"portcullis_passkey_logins_total{outcome="failure",reason="invalid_credential"} 1"#,
        r#"portcullis_logins_total{outcome="success",reason="none"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from:\n{metrics}");
    }

    let factors = app.get("/api/v1/users/me/mfa", Some(strong)).await;
    assert_eq!(factors.body["factors"][0]["type"], "webauthn", "{factors:?}");
    assert_eq!(factors.body["factors"][0]["disabled"], false, "{factors:?}");
    let listed = app.get("/api/v1/users/me/passkeys", Some(strong)).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let passkey = &listed.body["passkeys"][0];
    assert!(passkey["last_used_at"].is_string() && passkey["disabled"] == false, "{listed:?}");
    let path = format!("/api/v1/users/me/passkeys/{}", passkey["id"].as_str().unwrap());
    let removed = app.call("DELETE", &path, Some(json!({"password": PASSWORD})), Some(strong), &[]).await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(app.login(email, PASSWORD).await.status, 200, "the password alone signs in again");
}

async fn refused_responses_are_invalid_credentials_and_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "refused@example.com";
    let login = app.verified_login(email).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let user_id = login.body["data"]["id"].as_str().unwrap().to_owned();
    let mut authenticator = SoftPasskey::new(true);

    // Signed for another origin (another port of the same host).
    let (other_origin, _) = add_passkey(&app, &token, &mut authenticator, "http://localhost:9999").await;
    other_origin.assert_problem(400, "INVALID_CREDENTIAL");
    let events = app.get("/api/v1/auth/security-events?action=mfa.passkey.refused", Some(&token)).await;
    assert_eq!(events.body["data"]["events"][0]["metadata"]["reason"], "wrong_origin", "{events:?}");
    // Not a WebAuthn response at all.
    let junk =
        app.call("POST", "/api/v1/users/me/passkeys", Some(json!({"credential": "nope"})), Some(&token), &[]).await;
    junk.assert_problem(400, "VALIDATION_ERROR");

    let (added, id) = add_passkey(&app, &token, &mut authenticator, ORIGIN).await;
    assert_eq!(added.status, 201, "{added:?}");
    let mut tampered = assertion(&app, &mut authenticator, &id, &user_id).await;
    let last = tampered.response.signature.len() - 1;
    tampered.response.signature[last] ^= 1;
    sign_in(&app, &tampered).await.assert_problem(400, "INVALID_CREDENTIAL");
    let failures = app.get("/api/v1/auth/login-history?filter=failure", Some(&token)).await;
    let entry = &failures.body["data"]["history"][0]["metadata"];
    assert_eq!((entry["method"].as_str(), entry["reason"].as_str()), (Some("passkey"), Some("bad_signature")));
    for body in [json!({}), json!({"credential": []}), json!({"email": 5})] {
        app.post("/api/v1/auth/passkey/login", body).await.assert_problem(400, "VALIDATION_ERROR");
    }
    app.post("/api/v1/auth/passkey/options", json!({"email": "not an address"}))
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    let unknown = app.post("/api/v1/auth/passkey/options", json!({"email": "nobody@example.com"})).await;
    let known = app.post("/api/v1/auth/passkey/options", json!({"email": email})).await;
    let keys = |r: &Resp| {
        let mut keys: Vec<String> = r.body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, r.body["allowCredentials"].clone())
    };
    assert_eq!(keys(&unknown), keys(&known), "unknown and known addresses look alike");
}

async fn one_assertion_on_two_instances_signs_in_once(backend: Backend) {
    let a = TestApp::spawn_with(backend, |s| s.limits.requests_per_ip_per_minute = 1_000).await;
    let b = a.another_instance().await;
    let email = "race-pk@example.com";
    let login = a.verified_login(email).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let user_id = login.body["data"]["id"].as_str().unwrap().to_owned();
    let mut authenticator = SoftPasskey::new(true);
    let (added, id) = add_passkey(&a, &token, &mut authenticator, ORIGIN).await;
    assert_eq!(added.status, 201, "{added:?}");
    // Options from instance a, the response sent twenty times, half of them to b.
    let credential = assertion(&a, &mut authenticator, &id, &user_id).await;
    let results = join_all((0..20).map(|i| sign_in(if i % 2 == 0 { &a } else { &b }, &credential))).await;
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1, "{results:?}");
    // The copies can never sign in, so they do not count against the owner's lockout.
    assert!(results.iter().all(|r| r.status == 200 || r.code() == "INVALID_CREDENTIAL"), "{results:?}");
    a.login(email, PASSWORD).await.assert_problem(403, "MFA_REQUIRED");
}

async fn a_passkey_is_the_second_step_after_a_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "second@example.com";
    let token = app.verified_login(email).await.body["access_token"].as_str().unwrap().to_owned();
    let mut authenticator = SoftPasskey::new(true);
    let (added, _) = add_passkey(&app, &token, &mut authenticator, ORIGIN).await;
    assert_eq!(added.status, 201, "{added:?}");

    let challenge = app.login(email, PASSWORD).await;
    challenge.assert_problem(403, "MFA_REQUIRED");
    assert_eq!(challenge.body["factors"], json!(["webauthn", "recovery_code"]));
    let options = challenge.body["webauthn_options"].clone();
    assert_eq!(options["allowCredentials"].as_array().map(Vec::len), Some(1), "{options}");
    // Signed for another origin: refused, with fresh options for another try on this token.
    let mut request: RequestChallengeResponse = serde_json::from_value(json!({"publicKey": options})).unwrap();
    request.public_key.user_verification = UserVerificationPolicy::Required;
    let phished = authenticator.do_authentication(url("http://localhost:9999"), request).unwrap();
    let refused = app
        .post(
            "/api/v1/auth/mfa/verify",
            json!({"mfa_token": challenge.body["mfa_token"], "factor": "webauthn", "credential": phished}),
        )
        .await;
    refused.assert_problem(400, "INVALID_CREDENTIAL");
    let options = refused.body["webauthn_options"].clone();
    assert_eq!(options["allowCredentials"].as_array().map(Vec::len), Some(1), "{refused:?}");
    assert_ne!(options["challenge"], challenge.body["webauthn_options"]["challenge"]);
    let mut request: RequestChallengeResponse = serde_json::from_value(json!({"publicKey": options})).unwrap();
    // The passkey verified its user at registration: it must every time.
    request.public_key.user_verification = UserVerificationPolicy::Required;
    let credential = authenticator.do_authentication(url(ORIGIN), request).unwrap();
    let body = json!({
        "mfa_token": challenge.body["mfa_token"],
        "factor": "webauthn",
        "credential": serde_json::to_value(&credential).unwrap(),
    });
    let signed_in = app.post("/api/v1/auth/mfa/verify", body.clone()).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    let strong = signed_in.body["access_token"].as_str().unwrap();
    let sessions = app.get("/api/v1/auth/sessions", Some(strong)).await;
    let current = sessions.body["data"]["sessions"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
    assert_eq!((current["aal"].clone(), current["amr"].clone()), (json!(2), json!(["pwd", "hwk"])));
    // The token and the ceremony are spent.
    app.post("/api/v1/auth/mfa/verify", body).await.assert_problem(401, "UNAUTHORIZED");
    let missing = json!({"mfa_token": challenge.body["mfa_token"], "factor": "webauthn"});
    app.post("/api/v1/auth/mfa/verify", missing).await.assert_problem(400, "VALIDATION_ERROR");
}

portcullis_e2e::on_both_backends!(
    a_passkey_is_the_second_step_after_a_password,
    a_passkey_is_added_as_a_factor_and_signs_in_without_a_password,
    refused_responses_are_invalid_credentials_and_audited,
    one_assertion_on_two_instances_signs_in_once,
);
