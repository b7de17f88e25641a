//! `POST /auth/refresh`: rotation, the grace window for parallel tabs, reuse detection, and
//! bad input.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp};
use serde_json::{Value, json};

const PATH: &str = "/api/v1/auth/refresh";

fn field(r: &Resp, name: &str) -> String {
    r.body[name].as_str().unwrap_or_else(|| panic!("no {name} in {r:?}")).to_owned()
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    app.post(PATH, json!({"refresh_token": token})).await
}

async fn refresh_rotates_and_a_reuse_after_the_grace_window_signs_the_session_out(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.tokens.refresh_grace_secs = 1).await;
    let email = "rot@example.com";
    let login = app.verified_login(email).await;
    let first = field(&login, "refresh_token");

    let r = refresh(&app, &first).await;
    assert_eq!(r.status, 200, "{r:?}");
    let b = &r.body;
    assert_eq!(
        (&b["status"], &b["message"], &b["token_type"]),
        (&json!("success"), &json!("Token refreshed successfully."), &json!("Bearer"))
    );
    let expires_in = b["expires_in"].as_u64().unwrap();
    assert!((890..=900).contains(&expires_in), "{expires_in}");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let (access, second) = (field(&r, "access_token"), field(&r, "refresh_token"));
    assert!(access.starts_with("v4.local.") && access != field(&login, "access_token"));
    assert!(second.len() >= 32 && second != first);
    assert_eq!(app.get("/api/v1/users/me", Some(&access)).await.status, 200, "the new access token works");

    // Within the grace window the replaced token gets the very same pair (a parallel tab).
    let again = refresh(&app, &first).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!((field(&again, "access_token"), field(&again, "refresh_token")), (access.clone(), second.clone()));

    // The new token rotates on.
    let r = refresh(&app, &second).await;
    assert_eq!(r.status, 200, "{r:?}");
    let (latest_access, third) = (field(&r, "access_token"), field(&r, "refresh_token"));
    assert_ne!(third, second);

    // After the window, the spent token is taken for a stolen copy: the whole session ends.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    refresh(&app, &first).await.assert_problem(401, "UNAUTHORIZED");
    app.get("/api/v1/users/me", Some(&latest_access)).await.assert_problem(401, "UNAUTHORIZED");
    refresh(&app, &third).await.assert_problem(401, "UNAUTHORIZED");

    // The user is told: by mail, in the app, and in the security events.
    let mails = app.mails_to(email, 3).await;
    assert!(
        mails.iter().any(|m| m.data.contains("Subject: We signed out one of your Portcullis sessions")),
        "{mails:?}"
    );
    let token = field(&app.login(email, PASSWORD).await, "access_token");
    let events = app.get("/api/v1/auth/security-events?action=auth.token.reuse_detected", Some(&token)).await;
    assert_eq!(events.body["data"]["total_count"], 1, "{events:?}");
    assert!(events.body["data"]["events"][0]["metadata"]["session_id"].is_string(), "{events:?}");
    let notes = app.get("/api/v1/notifications", Some(&token)).await;
    let types: Vec<&str> =
        notes.body["data"]["notifications"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"security.token_reuse"), "{types:?}");
}

async fn parallel_refreshes_with_one_token_all_get_the_same_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = field(&app.verified_login("par@example.com").await, "refresh_token");
    let results = join_all((0..8).map(|_| refresh(&app, &token))).await;
    for r in &results {
        assert_eq!(r.status, 200, "{results:?}");
    }
    let pairs: Vec<(String, String)> =
        results.iter().map(|r| (field(r, "access_token"), field(r, "refresh_token"))).collect();
    assert!(pairs.iter().all(|p| *p == pairs[0]), "{pairs:?}");
    assert_ne!(pairs[0].1, token);
    // The session survived, and the one new token works.
    assert_eq!(app.get("/api/v1/users/me", Some(&pairs[0].0)).await.status, 200);
    assert_eq!(refresh(&app, &pairs[0].1).await.status, 200);
}

async fn refresh_refuses_bad_and_unknown_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.verified_login("bad@example.com").await;
    for (body, why) in [
        (json!({}), "missing"),
        (json!({"refresh_token": ""}), "empty"),
        (json!({"refresh_token": "   "}), "blank"),
        (json!({"refresh_token": "x".repeat(513)}), "oversized"),
        (json!({"refresh_token": 42}), "not a string"),
    ] {
        let r = app.post(PATH, body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "refresh_token", "{why}: {r:?}");
    }
    let r = refresh(&app, "an-unknown-refresh-token").await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert!(!r.text.contains("an-unknown-refresh-token"), "the token is never echoed");
    // An access token is not a refresh token.
    refresh(&app, &field(&login, "access_token")).await.assert_problem(401, "UNAUTHORIZED");
    app.raw(PATH, Some("text/plain"), b"refresh_token=x".to_vec()).await.assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
    app.call("GET", PATH, None, None, &[]).await.assert_problem(405, "METHOD_NOT_ALLOWED");

    // A session that is signed out takes its refresh token with it.
    let access = field(&login, "access_token");
    assert_eq!(app.call("POST", "/api/v1/auth/logout", None, Some(&access), &[]).await.status, 200);
    refresh(&app, &field(&login, "refresh_token")).await.assert_problem(401, "UNAUTHORIZED");
}

async fn unauthenticated_calls_share_the_per_ip_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.requests_per_ip_per_minute = 2).await;
    let calls: [(&str, Value); 4] = [
        (PATH, json!({"refresh_token": "unknown"})),
        ("/api/v1/auth/sessions/revoke-from-alert", json!({"token": "unknown"})),
        ("/api/v1/auth/forgot-password", json!({"email": "nobody@example.com"})),
        (
            "/api/v1/auth/reset-password",
            json!({"email": "nobody@example.com", "code": "123456", "new_password": "a brand new pass phrase"}),
        ),
    ];
    for (path, body) in calls {
        app.sql_both("DELETE FROM rate_events").await;
        for _ in 0..2 {
            let r = app.post(path, body.clone()).await;
            assert_ne!(r.status, 429, "{path}: {r:?}");
        }
        let r = app.post(path, body).await;
        r.assert_problem(429, "RATE_LIMIT_EXCEEDED");
        let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{path}: {wait}");
    }
}

portcullis_e2e::on_both_backends!(
    refresh_rotates_and_a_reuse_after_the_grace_window_signs_the_session_out,
    parallel_refreshes_with_one_token_all_get_the_same_pair,
    refresh_refuses_bad_and_unknown_tokens,
    unauthenticated_calls_share_the_per_ip_limit,
);
