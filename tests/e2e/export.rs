//! Section 11, `GET /users/me/export`: the caller's whole record as one JSON document, with
//! no secret in it, on both stores.

use portcullis_e2e::{Backend, PASSWORD, TestApp, totp_code};
use serde_json::{Value, json};

fn token_of(r: &portcullis_e2e::Resp) -> String {
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn export(app: &TestApp, token: &str) -> portcullis_e2e::Resp {
    app.get("/api/v1/users/me/export", Some(token)).await
}

async fn the_export_is_everything_about_the_caller_and_no_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "export@example.com";
    let first = app.verified_login(email).await;
    let refresh = first.body["refresh_token"].as_str().unwrap().to_owned();
    // A second account whose data must not show up.
    app.verified_login("other@example.com").await;
    let enrolling = token_of(&app.login(email, PASSWORD).await);
    let factor = app.enrol_totp(&enrolling, "Phone").await;

    // The enrolling session signed in with the password alone.
    export(&app, &enrolling).await.assert_problem(403, "FORBIDDEN");

    let mfa_token = app.mfa_token(email).await;
    let strong = app.verify_mfa(&mfa_token, "totp", &totp_code(&factor.secret, 1)).await;
    assert_eq!(strong.status, 200, "{strong:?}");
    let token = token_of(&strong);
    let r = export(&app, &token).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    let disposition = r.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.contains("portcullis-export-"), "{disposition}");
    let doc = &r.body;

    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["profile"]["email"], email);
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions.iter().all(|s| s["user_agent"].is_null() || s["user_agent"].is_string()));
    assert_eq!(
        doc["factors"],
        json!([{
            "id": factor.id, "type": "totp", "name": "Phone", "status": "active",
            "created_at": doc["factors"][0]["created_at"], "confirmed_at": doc["factors"][0]["confirmed_at"],
            "last_used_at": doc["factors"][0]["last_used_at"],
        }])
    );
    assert!(doc["factors"][0]["last_used_at"].is_string(), "the second step used it");
    assert_eq!(doc["passkeys"], json!([]));
    assert_eq!(
        (doc["recovery_codes"]["total"].as_u64(), doc["recovery_codes"]["remaining"].as_u64()),
        (Some(10), Some(10))
    );
    let notifications = doc["notifications"].as_array().unwrap();
    assert!(notifications.len() >= 3 && notifications.iter().all(|n| n["type"].is_string()), "{notifications:?}");
    let actions: Vec<&str> =
        doc["audit_entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["auth.user.registered", "auth.email.verified", "auth.login.success", "mfa.factor.enrolled"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }

    // Secrets and other people stay out.
    let user = app.stored_user(email).await.unwrap();
    for secret in [
        user.password_hash.as_str(),
        factor.secret.as_str(),
        factor.recovery_codes[0].as_str(),
        refresh.as_str(),
        token.as_str(),
        "other@example.com",
    ] {
        assert!(!r.text.contains(secret), "the export holds {secret}");
    }
    assert!(!r.text.contains("$argon2") && !r.text.contains("password_hash"));

    // The export itself is audited, and shows in the next one.
    let again = export(&app, &token).await;
    let newest = &again.body["audit_entries"][0];
    assert_eq!(newest["action"], "user.data.exported", "{newest:?}");
}

async fn the_export_needs_a_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/api/v1/users/me/export", None).await.assert_problem(401, "UNAUTHORIZED");
    let r = app.get("/api/v1/users/me/export", Some("v4.local.nonsense")).await;
    r.assert_problem(401, "UNAUTHORIZED");
    let _: Value = r.body;
}

portcullis_e2e::on_both_backends!(the_export_is_everything_about_the_caller_and_no_secret, the_export_needs_a_token);
