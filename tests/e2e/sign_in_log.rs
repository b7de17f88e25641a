use portcullis_e2e::{Backend, TestApp};
use serde_json::json;

async fn client_reported_login_is_audited_and_alerted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("c@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "POST",
            "/api/v1/auth/log",
            Some(json!({"event": "login", "fingerprint": "abc123xyz"})),
            Some(&token),
            &[],
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"success": true})));
    let h = app.get("/api/v1/auth/login-history?filter=success", Some(&token)).await;
    let newest = &h.body["data"]["history"][0];
    assert_eq!(newest["metadata"], json!({"method": "client_reported", "fingerprint": "abc123xyz"}));
    assert_eq!(newest["fingerprint"], "abc123xyz");
    // Verification code, password login alert, client-reported login alert.
    let mails = app.mails_to("c@example.com", 3).await;
    assert_eq!(mails.len(), 3);
    assert!(mails[2].data.contains("New sign-in"));

    let r = app.call("POST", "/api/v1/auth/log", Some(json!({"event": "signup"})), Some(&token), &[]).await;
    assert_eq!(r.body, json!({"success": true}));
    let all = app.get("/api/v1/auth/login-history", Some(&token)).await;
    assert_eq!(all.body["data"]["total_count"], 2, "auth.signup is not a login");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mails_to("c@example.com", 4).await.len(), 3, "signup sends no alert");
}

async fn sign_in_log_refuses_bad_bodies_tokens_and_floods(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("d@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.call("POST", "/api/v1/auth/log", Some(json!({"event": "login"})), None, &[])
        .await
        .assert_problem(401, "UNAUTHORIZED");
    let app = &app;
    let post = |body: serde_json::Value, token: &str| {
        let token = token.to_owned();
        async move { app.call("POST", "/api/v1/auth/log", Some(body), Some(&token), &[]).await }
    };
    let r = post(json!({"event": "teleport"}), &token).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.body["errors"][0]["field"], "event");
    let r = post(json!({"event": "signup", "fingerprint": "f".repeat(257)}), &token).await;
    assert_eq!(r.body["errors"][0]["field"], "fingerprint");
    let r = post(json!({"event": "signup", "fingerprint": "a\u{0}b"}), &token).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.body["errors"][0]["field"], "fingerprint");
    for _ in 0..20 {
        assert_eq!(post(json!({"event": "signup"}), &token).await.status, 200);
    }
    post(json!({"event": "signup"}), &token).await.assert_problem(429, "RATE_LIMIT_EXCEEDED");
}

async fn a_storage_failure_answers_success_false_and_keeps_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("z@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.sql_both("ALTER TABLE notifications RENAME TO notifications_gone").await;
    let r = app.call("POST", "/api/v1/auth/log", Some(json!({"event": "login"})), Some(&token), &[]).await;
    assert_eq!((r.status, &r.body), (200, &json!({"success": false})));
    assert_eq!(app.get("/api/v1/auth/login-history", Some(&token)).await.status, 200);
}

portcullis_e2e::on_both_backends!(
    client_reported_login_is_audited_and_alerted,
    sign_in_log_refuses_bad_bodies_tokens_and_floods,
    a_storage_failure_answers_success_false_and_keeps_the_session,
);
