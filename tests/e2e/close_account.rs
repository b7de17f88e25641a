//! Closing one's own account: `POST /users/me/deactivate` and `DELETE /users/me`.

use std::time::Duration;

use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp};
use serde_json::json;

fn access_of(r: &Resp) -> String {
    r.body["access_token"].as_str().unwrap_or_else(|| panic!("no token in {r:?}")).to_owned()
}

/// Checks the password rules both endpoints share, then closes the account with `method`
/// on `path` and checks that every session ended and login answers `code`.
async fn close(backend: Backend, method: &str, path: &str, code: &str) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let email = "close@example.com";
    let login = app.verified_login(email).await;
    let this = access_of(&login);
    let other = access_of(&app.login(email, PASSWORD).await);

    for body in [json!({}), json!({"password": ""}), json!({"password": 12})] {
        let r = app.call(method, path, Some(body), Some(&this), &[]).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "password", "{r:?}");
    }
    app.call(method, path, Some(json!({"password": PASSWORD})), None, &[]).await.assert_problem(401, "UNAUTHORIZED");
    let wrong = app.call(method, path, Some(json!({"password": "not the password"})), Some(&this), &[]).await;
    wrong.assert_problem(401, "INVALID_CREDENTIALS");
    assert_eq!(app.get("/api/v1/users/me", Some(&this)).await.status, 200, "a wrong password changes nothing");

    let r = app.call(method, path, Some(json!({"password": PASSWORD})), Some(&this), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "success");
    assert!(r.body["message"].is_string());
    for token in [&this, &other] {
        app.get("/api/v1/users/me", Some(token)).await.assert_problem(401, "UNAUTHORIZED");
    }
    let refresh = login.body["refresh_token"].as_str().unwrap();
    app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh})).await.assert_problem(401, "UNAUTHORIZED");
    app.login(email, PASSWORD).await.assert_problem(403, code);
    app.login(email, "not the password").await.assert_problem(401, "INVALID_CREDENTIALS");
    app
}

async fn deactivating_ends_every_session(backend: Backend) {
    close(backend, "POST", "/api/v1/users/me/deactivate", "ACCOUNT_DEACTIVATED").await;
}

async fn deleting_ends_every_session_and_recovery(backend: Backend) {
    let app = close(backend, "DELETE", "/api/v1/users/me", "ACCOUNT_DELETED").await;
    // A deleted account gets no reset code: the answer is the usual one, and no mail comes.
    let before = app.mails_to("close@example.com", 3).await.len();
    let r = app.post("/api/v1/auth/forgot-password", json!({"email": "close@example.com"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let after = app.mails_to_within("close@example.com", before + 1, Duration::from_millis(800)).await.len();
    assert_eq!(after, before);
}

portcullis_e2e::on_both_backends!(deactivating_ends_every_session, deleting_ends_every_session_and_recovery);
