//! Section 8 over HTTP on both stores: enrolment, the second step, replay, races and limits
//! across two instances, recovery codes, the admin reset, required roles, and no secret in
//! the logs.

use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, TestApp, logs, totp_code};
use serde_json::json;

/// Signs `email` up and in, enrols a TOTP factor; the enrolment and the enrolling token.
async fn enrolled(app: &TestApp, email: &str) -> (portcullis_e2e::Enrolled, String) {
    let token = app.verified_login(email).await.body["access_token"].as_str().unwrap().to_owned();
    (app.enrol_totp(&token, "Phone").await, token)
}

async fn enrolment_then_sign_in_with_a_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "mfa@example.com";
    let token = app.verified_login(email).await.body["access_token"].as_str().unwrap().to_owned();
    let begun =
        app.call("POST", "/api/v1/users/me/mfa/totp", Some(json!({"password": PASSWORD})), Some(&token), &[]).await;
    assert_eq!(begun.status, 201, "{begun:?}");
    assert_eq!(begun.body["expires_in"], 600);
    let secret = begun.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = begun.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Portcullis:mfa%40example.com?secret=") && uri.contains(&secret), "{uri}");
    // Pending: the password alone still signs in.
    assert_eq!(app.login(email, PASSWORD).await.status, 200);

    let path = format!("/api/v1/users/me/mfa/totp/{}/confirm", begun.body["id"].as_str().unwrap());
    let wrong = app.call("POST", &path, Some(json!({"code": "000000"})), Some(&token), &[]).await;
    wrong.assert_problem(400, "INVALID_CODE");
    let confirming = totp_code(&secret, 0);
    let confirmed = app.call("POST", &path, Some(json!({"code": confirming})), Some(&token), &[]).await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(
        (confirmed.body["type"].as_str(), confirmed.body["name"].as_str()),
        (Some("totp"), Some("Authenticator app"))
    );
    assert!(confirmed.body["last_used_at"].is_null() && confirmed.body.get("data").is_none());
    let codes = confirmed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let notice = app.mails_to(email, 4).await;
    assert!(notice.iter().any(|m| m.data.contains("A second factor, Authenticator app, was added")), "{notice:?}");

    // The password step now answers a challenge, and no session.
    let challenge = app.login(email, PASSWORD).await;
    challenge.assert_problem(403, "MFA_REQUIRED");
    assert_eq!(challenge.body["factors"], json!(["totp", "recovery_code"]));
    assert_eq!(challenge.body["expires_in"], 300);
    let mfa_token = challenge.body["mfa_token"].as_str().unwrap();
    // The confirming code never signs in; the next step's code does.
    app.verify_mfa(mfa_token, "totp", &confirming).await.assert_problem(400, "INVALID_CODE");
    let signed_in = app.verify_mfa(mfa_token, "totp", &totp_code(&secret, 1)).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(signed_in.body["status"], "success");
    assert_eq!(signed_in.body["data"]["email"], email);
    let strong = signed_in.body["access_token"].as_str().unwrap();
    assert!(signed_in.body["refresh_token"].is_string());

    let sessions = app.get("/api/v1/auth/sessions", Some(strong)).await;
    let current = sessions.body["data"]["sessions"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
    assert_eq!((current["aal"].clone(), current["amr"].clone()), (json!(2), json!(["pwd", "otp"])));
    let overview = app.get("/api/v1/users/me/mfa", Some(strong)).await;
    assert_eq!(overview.status, 200, "{overview:?}");
    assert_eq!(overview.body["recovery_codes_remaining"], 10);
    assert_eq!(overview.body["factors"][0]["type"], "totp");
    assert!(overview.body["factors"][0]["last_used_at"].is_string());
    // The enrolling session signed in with the password alone: it may not manage factors.
    app.get("/api/v1/users/me/mfa", Some(&token)).await.assert_problem(403, "FORBIDDEN");
    let events = app.get("/api/v1/auth/security-events?action=mfa.factor.enrolled", Some(strong)).await;
    assert_eq!(events.body["data"]["total_count"], 1, "{events:?}");
    // The login history shows the refused code and the second-factor sign-in.
    let failures = app.get("/api/v1/auth/login-history?filter=failure", Some(strong)).await;
    let refused = &failures.body["data"]["history"][0];
    assert_eq!(
        (refused["action"].as_str(), refused["metadata"]["reason"].as_str()),
        (Some("auth.login.failure"), Some("invalid_mfa_code")),
        "{failures:?}"
    );
    let successes = app.get("/api/v1/auth/login-history?filter=success", Some(strong)).await;
    assert_eq!(successes.body["data"]["history"][0]["metadata"]["mfa"], "totp", "{successes:?}");
    // The token is spent.
    app.verify_mfa(mfa_token, "totp", &totp_code(&secret, 1)).await.assert_problem(401, "UNAUTHORIZED");
}

async fn recovery_codes_work_once_and_bad_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "rc@example.com";
    let (factor, _) = enrolled(&app, email).await;
    let code = factor.recovery_codes[0].clone();
    let mfa_token = app.mfa_token(email).await;
    let r = app.verify_mfa(&mfa_token, "recovery_code", &code.to_uppercase()).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Verification code, sign-in alert, enrolment notice, then this sign-in's alert and notice.
    let used = app.mails_to(email, 5).await;
    assert!(used.iter().any(|m| m.data.contains("9 of them are left")), "{used:?}");
    let again = app.mfa_token(email).await;
    app.verify_mfa(&again, "recovery_code", &code).await.assert_problem(400, "INVALID_CODE");

    // Missing or oversized: a bad field. Malformed: as unknown.
    for token in ["", " ", "x".repeat(600).as_str()] {
        app.verify_mfa(token, "totp", "123456").await.assert_problem(400, "VALIDATION_ERROR");
    }
    for token in ["short", "no dot at all but long enough to pass as random text", "abc.2"] {
        app.verify_mfa(token, "totp", "123456").await.assert_problem(401, "UNAUTHORIZED");
    }
    app.verify_mfa(&format!("{}.0", "x".repeat(43)), "totp", "123456").await.assert_problem(401, "UNAUTHORIZED");
    app.verify_mfa(&again, "sms", "123456").await.assert_problem(400, "VALIDATION_ERROR");
    app.verify_mfa(&again, "totp", "").await.assert_problem(400, "VALIDATION_ERROR");
}

async fn one_code_on_two_instances_signs_in_once(backend: Backend) {
    let a = TestApp::spawn_with(backend, |s| s.limits.requests_per_ip_per_minute = 1_000).await;
    let b = a.another_instance().await;
    let email = "race@example.com";
    let (factor, _) = enrolled(&a, email).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(if i % 2 == 0 { a.mfa_token(email).await } else { b.mfa_token(email).await });
    }
    let code = totp_code(&factor.secret, 1);
    let results = join_all(tokens.iter().enumerate().map(|(i, token)| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.verify_mfa(token, "totp", &code)
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1, "{results:?}");
    assert!(
        results.iter().all(|r| r.status == 200 || r.code() == "INVALID_CODE" || r.code() == "MFA_ATTEMPTS_EXCEEDED"),
        "{results:?}"
    );

    // One recovery code, twenty times at once, through both instances.
    a.age_rate_events(3600).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(if i % 2 == 0 { a.mfa_token(email).await } else { b.mfa_token(email).await });
    }
    let code = factor.recovery_codes[5].clone();
    let results = join_all(tokens.iter().enumerate().map(|(i, token)| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.verify_mfa(token, "recovery_code", &code)
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1, "{results:?}");
}

async fn wrong_codes_are_limited_per_token_and_per_account_on_every_instance(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    let email = "limit@example.com";
    let (factor, _) = enrolled(&a, email).await;
    let first = a.mfa_token(email).await;
    for _ in 0..5 {
        b.verify_mfa(&first, "totp", "000000").await.assert_problem(400, "INVALID_CODE");
    }
    a.verify_mfa(&first, "totp", &totp_code(&factor.secret, 1)).await.assert_problem(400, "CODE_ATTEMPTS_EXCEEDED");
    let second = b.mfa_token(email).await;
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.verify_mfa(&second, "totp", "000000").await.assert_problem(400, "INVALID_CODE");
    }
    // Ten wrong codes for the account: the password still works (its own counter), codes do not.
    let third = a.mfa_token(email).await;
    let limited = b.verify_mfa(&third, "totp", &totp_code(&factor.secret, 1)).await;
    limited.assert_problem(429, "MFA_ATTEMPTS_EXCEEDED");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 25 * 60 && wait <= 30 * 60, "{wait}");
    // Verification code, sign-in alert, enrolment notice, and the warning, once.
    let mails = a.mails_to(email, 4).await;
    let warned = mails.iter().filter(|m| m.data.contains("second step failed")).count();
    assert_eq!(warned, 1, "{mails:?}");
    // It lifts by itself.
    a.age_rate_events(31 * 60).await;
    let fourth = a.mfa_token(email).await;
    assert_eq!(a.verify_mfa(&fourth, "totp", &totp_code(&factor.secret, 1)).await.status, 200);
}

async fn an_administrator_resets_the_factors_of_a_user_who_lost_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "lost@example.com";
    let (_, _) = enrolled(&app, email).await;
    let user = app.stored_user(email).await.unwrap();
    let admin = app.admin_token("admin@example.com").await;
    let path = format!("/api/v1/admin/users/{}/mfa", user.id);
    let plain = app.verified_login("plain@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.call("DELETE", &path, None, Some(&plain), &[]).await.assert_problem(403, "FORBIDDEN");
    let r = app.call("DELETE", &path, None, Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, json!({"user_id": user.id.to_string(), "factors_removed": 1}));
    let mails = app.mails_to(email, 4).await;
    assert!(mails.iter().any(|m| m.data.contains("An administrator removed every second factor")), "{mails:?}");
    assert_eq!(app.login(email, PASSWORD).await.status, 200);
    let audit = app.get("/api/v1/admin/audit-log?action=admin.user.mfa_reset", Some(&admin)).await;
    assert_eq!(audit.body["data"]["total_count"], 1, "{audit:?}");
}

async fn required_roles_must_enrol_before_anything_else(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.mfa.require_for_roles = vec!["admin".to_owned()]).await;
    let admin = app.admin_token("boss@example.com").await;
    app.get("/api/v1/admin/users", Some(&admin)).await.assert_problem(403, "MFA_ENROLLMENT_REQUIRED");
    app.get("/api/v1/auth/sessions", Some(&admin)).await.assert_problem(403, "MFA_ENROLLMENT_REQUIRED");
    assert_eq!(app.get("/api/v1/users/me", Some(&admin)).await.status, 200);
    assert_eq!(app.get("/api/v1/users/me/mfa", Some(&admin)).await.status, 200);
    // A plain user is not concerned.
    let plain = app.verified_login("plain@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/auth/sessions", Some(&plain)).await.status, 200);
    app.enrol_totp(&admin, "Key").await;
    assert_eq!(app.get("/api/v1/admin/users", Some(&admin)).await.status, 200);
    // Signing out stays open to a holder who has not enrolled.
    let late = app.admin_token("late@example.com").await;
    assert_eq!(app.call("POST", "/api/v1/auth/logout", None, Some(&late), &[]).await.status, 200);
}

async fn factors_are_listed_renewed_and_removed_over_http(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "manage@example.com";
    let (phone, _) = enrolled(&app, email).await;
    let mfa_token = app.mfa_token(email).await;
    let strong = app.verify_mfa(&mfa_token, "totp", &totp_code(&phone.secret, 1)).await;
    let strong = strong.body["access_token"].as_str().unwrap().to_owned();

    let wrong = json!({"password": "not the password at all"});
    let r = app.call("POST", "/api/v1/users/me/mfa/recovery-codes", Some(wrong), Some(&strong), &[]).await;
    r.assert_problem(401, "INVALID_CREDENTIALS");
    let body = json!({"password": PASSWORD});
    let renewed = app.call("POST", "/api/v1/users/me/mfa/recovery-codes", Some(body.clone()), Some(&strong), &[]).await;
    assert_eq!(renewed.status, 201, "{renewed:?}");
    let codes = renewed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().is_some_and(|c| c.len() == 14 && c.matches('-').count() == 2)));
    // The old codes are dead, the new ones work.
    let token = app.mfa_token(email).await;
    app.verify_mfa(&token, "recovery_code", &phone.recovery_codes[0]).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(app.verify_mfa(&token, "recovery_code", codes[0].as_str().unwrap()).await.status, 200);

    let unknown = "/api/v1/users/me/mfa/0190f4c2-7a4e-7cc4-9b43-6f6f1c2a9d10";
    app.call("DELETE", unknown, Some(body.clone()), Some(&strong), &[]).await.assert_problem(404, "NOT_FOUND");
    let path = format!("/api/v1/users/me/mfa/{}", phone.id);
    let removed = app.call("DELETE", &path, Some(body.clone()), Some(&strong), &[]).await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!((removed.body["id"].as_str(), removed.body["type"].as_str()), (Some(phone.id.as_str()), Some("totp")));
    let overview = app.get("/api/v1/users/me/mfa", Some(&strong)).await;
    assert_eq!(overview.body, json!({"factors": [], "recovery_codes_remaining": 0}));
    assert_eq!(app.login(email, PASSWORD).await.status, 200, "the password alone signs in again");
}

async fn no_seed_token_or_code_reaches_the_logs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "quiet@example.com";
    let (factor, _) = enrolled(&app, email).await;
    let mfa_token = app.mfa_token(email).await;
    app.verify_mfa(&mfa_token, "totp", "000000").await;
    let code = totp_code(&factor.secret, 1);
    assert_eq!(app.verify_mfa(&mfa_token, "totp", &code).await.status, 200);
    let logs = logs::captured();
    assert!(logs.contains("request finished"), "the capture works");
    let recovery = factor.recovery_codes.join(" ");
    for secret in [factor.secret.as_str(), mfa_token.as_str()].into_iter().chain(recovery.split(' ')) {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
    let found = logs::number_in_context(&logs, &code);
    assert!(found.is_none(), "a code reached the logs: {found:?}");
}

portcullis_e2e::on_both_backends!(
    enrolment_then_sign_in_with_a_code,
    recovery_codes_work_once_and_bad_tokens_are_refused,
    one_code_on_two_instances_signs_in_once,
    wrong_codes_are_limited_per_token_and_per_account_on_every_instance,
    an_administrator_resets_the_factors_of_a_user_who_lost_them,
    required_roles_must_enrol_before_anything_else,
    factors_are_listed_renewed_and_removed_over_http,
    no_seed_token_or_code_reaches_the_logs,
);
