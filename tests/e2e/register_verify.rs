use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, TestApp, code_in};
use serde_json::json;

async fn register_answers_the_same_for_new_and_taken_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.register("Laura@Example.com", PASSWORD).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body["status"], "success");
    assert_eq!(first.body["data"]["email"], "laura@example.com");
    assert!(first.body["message"].is_string());
    // Mail to one address is limited to one a minute; let that minute pass.
    app.age_rate_events(61).await;
    let again = app.register("laura@example.com", PASSWORD).await;
    assert_eq!((again.status, &again.body), (201, &first.body));

    // The unverified owner got a fresh code; the first one no longer works.
    let old = app.code("laura@example.com", 1).await;
    let new = app.code("laura@example.com", 2).await;
    let r = app.post("/api/v1/auth/verify-email", json!({"email": "laura@example.com", "code": old})).await;
    if old != new {
        r.assert_problem(400, "INVALID_CODE");
    }
    let r = app.post("/api/v1/auth/verify-email", json!({"email": "laura@example.com", "code": new})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, json!({"status": "success", "message": "Email verified successfully."}));
}

async fn registering_a_verified_address_warns_its_owner_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("owner@example.com").await;
    app.age_rate_events(61).await;
    let r = app.register("owner@example.com", "another long passphrase here").await;
    assert_eq!(r.status, 201);
    let mails = app.mails_to("owner@example.com", 3).await;
    let last = &mails.last().expect("mail").data;
    assert!(last.contains("Someone tried to sign up"), "{last}");
    assert!(code_in(last).is_none());
    // The old password still works; the attempted one does not.
    assert_eq!(app.login("owner@example.com", PASSWORD).await.status, 200);
    app.login("owner@example.com", "another long passphrase here").await.assert_problem(401, "INVALID_CREDENTIALS");
}

async fn register_validation_names_every_bad_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.post("/api/v1/auth/register", json!({"name": "", "email": "nope", "password": "short"})).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"email"), "{fields:?}");
    for (password, why) in [
        ("short password", "too short"),
        ("laura@example.com", "equals email"),
        ("passwordpassword", "common"),
        (&*"x".repeat(129), "too long"),
    ] {
        let r = app
            .post("/api/v1/auth/register", json!({"name": "L", "email": "laura@example.com", "password": password}))
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "password", "{why}");
        assert!(!r.text.contains(password), "password echoed ({why})");
    }
    let long_name = "n".repeat(101);
    let r = app
        .post("/api/v1/auth/register", json!({"name": long_name, "email": "a@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(r.body["errors"][0]["field"], "name");
}

async fn verification_code_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("v@example.com", PASSWORD).await;
    let code = app.code("v@example.com", 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = |code: String| app.post("/api/v1/auth/verify-email", json!({"email": "v@example.com", "code": code}));

    verify(wrong.into()).await.assert_problem(400, "INVALID_CODE");
    app.post("/api/v1/auth/verify-email", json!({"email": "ghost@example.com", "code": "123456"}))
        .await
        .assert_problem(400, "INVALID_CODE");
    app.post("/api/v1/auth/verify-email", json!({"email": "v@example.com", "code": "12345"}))
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    // Login before verification: right password, 403.
    app.login("v@example.com", PASSWORD).await.assert_problem(403, "ACCOUNT_NOT_VERIFIED");

    assert_eq!(verify(code.clone()).await.status, 200);
    verify(code).await.assert_problem(400, "INVALID_CODE");
}

async fn a_code_is_burned_after_five_wrong_tries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("b@example.com", PASSWORD).await;
    let code = app.code("b@example.com", 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        app.post("/api/v1/auth/verify-email", json!({"email": "b@example.com", "code": wrong}))
            .await
            .assert_problem(400, "INVALID_CODE");
    }
    app.post("/api/v1/auth/verify-email", json!({"email": "b@example.com", "code": code}))
        .await
        .assert_problem(400, "CODE_ATTEMPTS_EXCEEDED");
}

async fn an_expired_code_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("e@example.com", PASSWORD).await;
    let code = app.code("e@example.com", 1).await;
    app.sql("UPDATE verification_codes SET expires_at = 0", "UPDATE verification_codes SET expires_at = 'epoch'").await;
    app.post("/api/v1/auth/verify-email", json!({"email": "e@example.com", "code": code}))
        .await
        .assert_problem(400, "CODE_EXPIRED");
}

async fn sixteen_parallel_uses_of_one_code_succeed_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("p@example.com", PASSWORD).await;
    let code = app.code("p@example.com", 1).await;
    let body = json!({"email": "p@example.com", "code": code});
    let results = join_all((0..16).map(|_| app.post("/api/v1/auth/verify-email", body.clone()))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 400, "{r:?}");
        assert!(["INVALID_CODE", "CODE_ATTEMPTS_EXCEEDED"].contains(&r.code()), "{r:?}");
    }
}

async fn resend_is_silent_and_limited_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("r@example.com", PASSWORD).await;
    let first = app.code("r@example.com", 1).await;
    // The registration mail used the address's one-per-minute allowance.
    app.post("/api/v1/auth/resend-verification", json!({"email": "r@example.com"}))
        .await
        .assert_problem(429, "RATE_LIMIT_EXCEEDED");
    let unknown = app.post("/api/v1/auth/resend-verification", json!({"email": "nobody@example.com"})).await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.body["status"], "success");
    let again = app.post("/api/v1/auth/resend-verification", json!({"email": "nobody@example.com"})).await;
    again.assert_problem(429, "RATE_LIMIT_EXCEEDED");
    assert!(again.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);

    // Once the minute has passed (moved back in the store), a new code replaces the old.
    app.age_rate_events(61).await;
    assert_eq!(app.post("/api/v1/auth/resend-verification", json!({"email": "r@example.com"})).await.status, 200);
    let second = app.code("r@example.com", 2).await;
    if first != second {
        app.post("/api/v1/auth/verify-email", json!({"email": "r@example.com", "code": first}))
            .await
            .assert_problem(400, "INVALID_CODE");
    }
    assert_eq!(
        app.post("/api/v1/auth/verify-email", json!({"email": "r@example.com", "code": second})).await.status,
        200
    );
    assert!(app.sink.messages().iter().all(|m| !m.to.iter().any(|r| r.contains("nobody@"))));
}

portcullis_e2e::on_both_backends!(
    register_answers_the_same_for_new_and_taken_addresses,
    registering_a_verified_address_warns_its_owner_and_changes_nothing,
    register_validation_names_every_bad_field,
    verification_code_rules,
    a_code_is_burned_after_five_wrong_tries,
    an_expired_code_is_refused,
    sixteen_parallel_uses_of_one_code_succeed_exactly_once,
    resend_is_silent_and_limited_per_address,
);
