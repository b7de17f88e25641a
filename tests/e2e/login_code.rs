//! Sign-in by a mailed code (`POST /auth/login/code`, `POST /auth/login/code/verify`) on both
//! stores: one answer for every address, the answers of a password login, a code that works
//! once (raced on one instance and on two), the failed-attempt limit shared with the password,
//! account states, a second factor after the code, the audit entries and the alert.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_e2e::{Backend, Mail, PASSWORD, Resp, TestApp, code_in, totp_code};
use portcullis_server::http::uniform_timing::ENUMERATION_FLOOR;
use serde_json::{Value, json};

const REQUEST: &str = "/api/v1/auth/login/code";
const VERIFY: &str = "/api/v1/auth/login/code/verify";
const CODE_SUBJECT: &str = "Subject: Your Portcullis sign-in code";
const ALERT_SUBJECT: &str = "Subject: New sign-in to your Portcullis account";
/// What the new-sign-in alert of a code sign-in says about how it happened.
const BY_CODE: &str = "with a code mailed to you";

async fn request_code(app: &TestApp, email: &str) -> Resp {
    app.post(REQUEST, json!({"email": email})).await
}

async fn verify(app: &TestApp, email: &str, code: &str) -> Resp {
    app.post(VERIFY, json!({"email": email, "code": code})).await
}

/// The sign-in code mails to `email`, oldest first, once `n` of them have arrived, or those
/// there are when `patience` runs out.
async fn code_mails(app: &TestApp, email: &str, n: usize, patience: Duration) -> Vec<Mail> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let mails: Vec<Mail> = app
            .mails_to_within(email, usize::MAX, Duration::ZERO)
            .await
            .into_iter()
            .filter(|m| m.data.contains(CODE_SUBJECT))
            .collect();
        if mails.len() >= n || tokio::time::Instant::now() > deadline {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Requests a sign-in code for `email` and returns the one in the `n`-th (1-based) sign-in
/// code mail to the address.
async fn mailed_code(app: &TestApp, email: &str, n: usize) -> String {
    let r = request_code(app, email).await;
    assert_eq!(r.status, 200, "{r:?}");
    let mails = code_mails(app, email, n, Duration::from_secs(10)).await;
    let mail = mails.get(n - 1).unwrap_or_else(|| panic!("sign-in code mail {n} to {email} never came: {mails:?}"));
    code_in(&mail.data).unwrap_or_else(|| panic!("no code in {mail:?}"))
}

/// A well-formed code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

fn access_of(r: &Resp) -> String {
    r.body["access_token"].as_str().unwrap_or_else(|| panic!("no token in {r:?}")).to_owned()
}

/// The member names of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    keys.sort();
    keys
}

/// The sessions of `token`'s user as `GET /auth/sessions` lists them.
async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/v1/auth/sessions", Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["data"]["sessions"].as_array().unwrap().clone()
}

/// The session of `token` itself.
async fn current_session(app: &TestApp, token: &str) -> Value {
    let all = sessions(app, token).await;
    all.iter().find(|s| s["current"] == true).unwrap_or_else(|| panic!("no current session in {all:?}")).clone()
}

/// The `metadata` of `token`'s user's login-history entries under `filter`, newest first.
async fn history(app: &TestApp, token: &str, filter: &str) -> Vec<Value> {
    let h = app.get(&format!("/api/v1/auth/login-history?filter={filter}&limit=100"), Some(token)).await;
    assert_eq!(h.status, 200, "{h:?}");
    h.body["data"]["history"].as_array().unwrap().iter().map(|e| e["metadata"].clone()).collect()
}

async fn a_mailed_code_signs_in_once_with_the_answer_of_a_password_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "code@example.com";
    let password_login = app.verified_login(email).await;
    let code = mailed_code(&app, email, 1).await;
    let mails = code_mails(&app, email, 1, Duration::ZERO).await;
    assert!(mails[0].data.contains("Hello Laura Boyle,"), "{mails:?}");

    let r = verify(&app, email, &code).await;
    assert_eq!(r.status, 200, "{r:?}");
    let b = &r.body;
    assert_eq!(
        (&b["status"], &b["message"], &b["token_type"], &b["expires_in"]),
        (&json!("success"), &json!("User authenticated successfully."), &json!("Bearer"), &json!(900))
    );
    let token = access_of(&r);
    assert!(token.starts_with("v4.local.") && token != access_of(&password_login), "{r:?}");
    assert!(b["refresh_token"].as_str().unwrap().len() >= 32);
    assert_eq!((&b["data"]["id"], &b["data"]["email"]), (&password_login.body["data"]["id"], &json!(email)));
    assert_eq!(keys(b), keys(&password_login.body), "the members of a password login");
    assert_eq!(keys(&b["data"]), keys(&password_login.body["data"]));
    assert_eq!(r.header("cache-control"), password_login.header("cache-control"));

    // The code is spent.
    verify(&app, email, &code).await.assert_problem(401, "INVALID_CREDENTIALS");
    // A session of one factor, the mailbox, that refreshes like any other.
    let session = current_session(&app, &token).await;
    assert_eq!((&session["aal"], &session["amr"]), (&json!(1), &json!(["email"])), "{session}");
    let refreshed = app.post("/api/v1/auth/refresh", json!({"refresh_token": b["refresh_token"]})).await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");

    // Audited as a login by another method; the spent code as a failure of that method.
    assert_eq!(
        history(&app, &token, "success").await,
        [json!({"method": "email_code", "remember_me": false}), json!({"method": "password", "remember_me": false})]
    );
    assert_eq!(history(&app, &token, "failure").await, [json!({"reason": "invalid_code", "method": "email_code"})]);
    let requested = app.get("/api/v1/auth/security-events?action=auth.login.code_requested", Some(&token)).await;
    assert_eq!(requested.body["data"]["total_count"], 1, "{requested:?}");

    // Verification code, password sign-in alert, sign-in code, code sign-in alert.
    let mails = app.mails_to(email, 4).await;
    let alerts: Vec<&Mail> = mails.iter().filter(|m| m.data.contains(ALERT_SUBJECT)).collect();
    assert_eq!(alerts.len(), 2, "{mails:?}");
    let by_code: Vec<&&Mail> = alerts.iter().filter(|m| m.data.contains(BY_CODE)).collect();
    assert_eq!(by_code.len(), 1, "only the code sign-in's alert says so: {alerts:?}");
    assert!(by_code[0].data.contains("/api/v1/auth/sessions/revoke-from-alert?token="), "{:?}", by_code[0]);
    assert!(by_code[0].data.contains("127.0.0.1"), "{:?}", by_code[0]);
    let notifications = app.get("/api/v1/notifications", Some(&token)).await;
    let newest = notifications.body["data"]["notifications"][0]["body"].as_str().unwrap_or_default();
    assert!(newest.contains(BY_CODE), "{notifications:?}");
    let metrics = app.get("/metrics", None).await.text;
    let line = r#"portcullis_code_logins_total{outcome="success",reason="none"} 1"#;
    assert!(metrics.lines().any(|l| l == line), "{line} missing from:\n{metrics}");
}

async fn every_address_gets_one_answer_and_only_an_account_gets_mail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (known, gone, ghost) = ("known@example.com", "gone@example.com", "ghost@example.com");
    let token = access_of(&app.verified_login(known).await);
    app.verified_login(gone).await;
    app.sql(
        "UPDATE users SET deleted_at = 1 WHERE email = 'gone@example.com'",
        "UPDATE users SET deleted_at = now() WHERE email = 'gone@example.com'",
    )
    .await;

    let answer = request_code(&app, known).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["status"], "success");
    assert!(answer.body["message"].is_string(), "{answer:?}");
    assert_eq!(code_mails(&app, known, 1, Duration::from_secs(10)).await.len(), 1);
    let events = app.get("/api/v1/auth/security-events?action=auth.login.code_requested", Some(&token)).await;
    assert_eq!(events.body["data"]["total_count"], 1, "{events:?}");
    assert_eq!(events.body["data"]["events"][0]["action"], "auth.login.code_requested");

    // An unknown address, a deleted account, and the same address again within the minute:
    // the same answer, and no mail.
    for email in [ghost, gone, known] {
        let r = request_code(&app, email).await;
        assert_eq!((r.status, &r.body), (200, &answer.body), "{email}: {r:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.mails_to_within(ghost, 1, Duration::ZERO).await.is_empty());
    assert!(code_mails(&app, gone, 1, Duration::ZERO).await.is_empty(), "a deleted account gets no code");
    assert_eq!(code_mails(&app, known, 2, Duration::ZERO).await.len(), 1, "one code mail a minute");

    for body in [json!({"email": "not an address"}), json!({}), json!({"email": 5})] {
        let r = app.post(REQUEST, body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "email", "{r:?}");
    }
}

async fn wrong_unknown_replaced_and_expired_codes_get_one_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "wrong@example.com";
    let token = access_of(&app.verified_login(email).await);
    let first = mailed_code(&app, email, 1).await;
    let password = app.login(email, "wrong password entirely").await;
    let wrong = verify(&app, email, other_than(&first)).await;
    let unknown = verify(&app, "ghost@example.com", &first).await;
    for r in [&password, &wrong, &unknown] {
        r.assert_problem(401, "INVALID_CREDENTIALS");
        assert_eq!(r.body, password.body, "a wrong code answers as a wrong password");
        assert_eq!(r.header("www-authenticate"), None, "credentials, not a token, were wrong");
    }
    assert_eq!(
        history(&app, &token, "failure").await,
        [json!({"reason": "invalid_code", "method": "email_code"}), json!({"reason": "invalid_password"})]
    );

    // A new code (past the one-a-minute mail limit) replaces the first.
    app.age_rate_events(120).await;
    let second = mailed_code(&app, email, 2).await;
    if second != first {
        verify(&app, email, &first).await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    app.sql(
        "UPDATE verification_codes SET expires_at = 0 WHERE purpose = 'sign_in'",
        "UPDATE verification_codes SET expires_at = 'epoch' WHERE purpose = 'sign_in'",
    )
    .await;
    verify(&app, email, &second).await.assert_problem(401, "INVALID_CREDENTIALS");

    // Four failures in all: the right code of a third mail still signs in.
    app.age_rate_events(120).await;
    let third = mailed_code(&app, email, 3).await;
    let r = verify(&app, email, &third).await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn malformed_requests_are_validation_errors_and_cost_no_attempt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "form@example.com";
    app.verified_login(email).await;
    let code = mailed_code(&app, email, 1).await;
    for (body, field) in [
        (json!({"email": email, "code": "12345"}), "code"),
        (json!({"email": email, "code": "1234567"}), "code"),
        (json!({"email": email, "code": "12a456"}), "code"),
        (json!({"email": email, "code": ""}), "code"),
        (json!({"email": email}), "code"),
        (json!({"email": "not an address", "code": code}), "email"),
        (json!({"code": code}), "email"),
    ] {
        let r = app.post(VERIFY, body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
    }
    // Seven refusals before any check: none was a failed attempt, nor a try of the code.
    let r = verify(&app, email, &code).await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn account_state_is_told_only_after_a_right_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fresh = "fresh@example.com";
    assert_eq!(app.register(fresh, PASSWORD).await.status, 201);
    let code = mailed_code(&app, fresh, 1).await;
    verify(&app, fresh, other_than(&code)).await.assert_problem(401, "INVALID_CREDENTIALS");
    verify(&app, fresh, &code).await.assert_problem(403, "ACCOUNT_NOT_VERIFIED");

    let email = "state@example.com";
    app.verified_login(email).await;
    let code = mailed_code(&app, email, 1).await;
    for (status, problem) in [("suspended", "ACCOUNT_SUSPENDED"), ("deactivated", "ACCOUNT_DEACTIVATED")] {
        app.sql_both(&format!("UPDATE users SET status = '{status}' WHERE email = '{email}'")).await;
        verify(&app, email, &code).await.assert_problem(403, problem);
    }
    // A wrong code reveals nothing.
    verify(&app, email, other_than(&code)).await.assert_problem(401, "INVALID_CREDENTIALS");
    // The refusals did not spend the code, as a refused right password stays right.
    app.sql_both(&format!("UPDATE users SET status = 'active' WHERE email = '{email}'")).await;
    let r = verify(&app, email, &code).await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn a_second_factor_finishes_a_code_sign_in_at_aal_2(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "factor@example.com";
    let token = access_of(&app.verified_login(email).await);
    let factor = app.enrol_totp(&token, "Phone").await;
    let code = mailed_code(&app, email, 1).await;
    let body = json!({"email": email, "code": code, "remember_me": true});
    let challenge = app.post(VERIFY, body.clone()).await;
    challenge.assert_problem(403, "MFA_REQUIRED");
    assert_eq!(challenge.body["factors"], json!(["totp", "recovery_code"]), "{challenge:?}");
    assert!(challenge.body.get("access_token").is_none() && challenge.body.get("refresh_token").is_none());
    let mfa_token = challenge.body["mfa_token"].as_str().unwrap().to_owned();
    // The mailed code earned the challenge and is spent.
    app.post(VERIFY, body).await.assert_problem(401, "INVALID_CREDENTIALS");

    let signed_in = app.verify_mfa(&mfa_token, "totp", &totp_code(&factor.secret, 1)).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(signed_in.body["data"]["email"], email);
    let strong = access_of(&signed_in);
    let session = current_session(&app, &strong).await;
    assert_eq!((&session["aal"], &session["amr"]), (&json!(2), &json!(["email", "otp"])), "{session}");
    // "Remember me" travelled through the challenge.
    let successes = history(&app, &strong, "success").await;
    assert_eq!(successes[0], json!({"method": "email_code", "remember_me": true, "mfa": "totp"}), "{successes:?}");
}

/// The `reason` of each `auth.login.failure` of `token`'s user, newest first.
async fn failure_reasons(app: &TestApp, token: &str) -> Vec<String> {
    history(app, token, "failure").await.iter().map(|m| m["reason"].as_str().unwrap().to_owned()).collect()
}

async fn wrong_codes_and_wrong_passwords_share_one_lockout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "shared@example.com";
    let token = access_of(&app.verified_login(email).await);
    let code = mailed_code(&app, email, 1).await;
    for _ in 0..3 {
        app.login(email, "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    for _ in 0..2 {
        verify(&app, email, other_than(&code)).await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    // The sixth attempt is refused either way, even with the right code or password.
    let r = verify(&app, email, &code).await;
    r.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1800).contains(&wait), "{wait}");
    app.login(email, PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    let reasons = failure_reasons(&app, &token).await;
    let count = |reason: &str| reasons.iter().filter(|r| *r == reason).count();
    assert_eq!((count("invalid_password"), count("invalid_code")), (3, 2), "{reasons:?}");

    // The lockout lifts by itself, and the refused right code was never tried: it signs in.
    app.age_rate_events(31 * 60).await;
    let r = verify(&app, email, &code).await;
    assert_eq!(r.status, 200, "{r:?}");

    // The other way round: five wrong codes lock the password out.
    for _ in 0..5 {
        verify(&app, email, other_than(&code)).await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    app.login(email, PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    // Unknown addresses lock the same way, so the 429 reveals nothing.
    for _ in 0..5 {
        verify(&app, "ghost@example.com", "123456").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    verify(&app, "ghost@example.com", "123456").await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
}

async fn five_wrong_codes_burn_the_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "burn@example.com";
    app.verified_login(email).await;
    let code = mailed_code(&app, email, 1).await;
    for _ in 0..5 {
        verify(&app, email, other_than(&code)).await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    verify(&app, email, &code).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    // Once the lockout has passed the code is still dead: it had its five tries.
    app.age_rate_events(31 * 60).await;
    verify(&app, email, &code).await.assert_problem(401, "INVALID_CREDENTIALS");
    let fresh = mailed_code(&app, email, 2).await;
    let r = verify(&app, email, &fresh).await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// Asserts that exactly one of `results` signed in and every other one is a plain
/// `INVALID_CREDENTIALS`; the winner's access token.
fn the_one_winner(results: &[Resp]) -> String {
    let winners: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.status != 200) {
        r.assert_problem(401, "INVALID_CREDENTIALS");
    }
    access_of(winners[0])
}

async fn parallel_redemptions_of_one_code_sign_in_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "race@example.com";
    app.verified_login(email).await;
    let code = mailed_code(&app, email, 1).await;
    // Six at once: one winner and at most five losers, so the failed-attempt limit (five)
    // never answers in place of the code.
    let results = join_all((0..6).map(|_| verify(&app, email, &code))).await;
    let token = the_one_winner(&results);
    assert_eq!(sessions(&app, &token).await.len(), 2, "the password's session and one of the code");
    let successes = history(&app, &token, "success").await;
    assert_eq!(successes.iter().filter(|m| m["method"] == "email_code").count(), 1, "{successes:?}");
    // Verification code, password sign-in alert, sign-in code, one code sign-in alert.
    assert_eq!(app.mails_to(email, 4).await.len(), 4);
    assert_eq!(app.mails_to_within(email, 5, Duration::from_millis(500)).await.len(), 4, "one alert");
}

async fn one_code_on_two_instances_signs_in_once(backend: Backend) {
    // Twenty at once from one client: lift the per-IP limit, and the failed-attempt limit so
    // that all twenty are in flight together and every loser is a plain 401.
    let a = TestApp::spawn_with(backend, |s| {
        s.limits.requests_per_ip_per_minute = 1_000;
        s.limits.login_failures_per_account = 100;
    })
    .await;
    let b = a.another_instance().await;
    let email = "pair@example.com";
    a.verified_login(email).await;
    let code = mailed_code(&b, email, 1).await;
    let results = join_all((0..20).map(|i| verify(if i % 2 == 0 { &a } else { &b }, email, &code))).await;
    let token = the_one_winner(&results);
    assert_eq!(sessions(&b, &token).await.len(), 2, "the password's session and one of the code");
    let successes = history(&a, &token, "success").await;
    assert_eq!(successes.iter().filter(|m| m["method"] == "email_code").count(), 1, "{successes:?}");
    for app in [&a, &b] {
        verify(app, email, &code).await.assert_problem(401, "INVALID_CREDENTIALS");
    }
}

/// The answers that must not tell an account from no account wait for one floor, whether
/// or not the request had a code and a mail to write, so that transaction does not show in
/// their timing. (A lower bound: a slow machine cannot make this fail.)
async fn answers_for_an_account_and_for_nobody_wait_for_the_same_floor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (known, ghost) = ("known@example.com", "ghost@example.com");
    app.verified_login(known).await;
    let timed = |path: &'static str, body: Value, status: u16| {
        let app = &app;
        async move {
            let start = std::time::Instant::now();
            let r = app.post(path, body.clone()).await;
            let took = start.elapsed();
            assert_eq!(r.status, status, "{path} {body}: {r:?}");
            assert!(took >= ENUMERATION_FLOOR, "{path} {body} answered after {took:?}");
        }
    };
    timed(REQUEST, json!({"email": known}), 200).await;
    timed(REQUEST, json!({"email": ghost}), 200).await;
    let mails = code_mails(&app, known, 1, Duration::from_secs(10)).await;
    let code = mails.first().and_then(|m| code_in(&m.data)).expect("the account's request mailed a code");
    let wrong = other_than(&code);
    timed(VERIFY, json!({"email": known, "code": wrong}), 401).await;
    timed(VERIFY, json!({"email": ghost, "code": wrong}), 401).await;
    let forgot = "/api/v1/auth/forgot-password";
    timed(forgot, json!({"email": known}), 200).await;
    timed(forgot, json!({"email": ghost}), 200).await;
    let reset = "Subject: Your Portcullis password reset code";
    let mails = app.mails_to_within(known, 4, Duration::from_secs(10)).await;
    assert_eq!(mails.iter().filter(|m| m.data.contains(reset)).count(), 1, "the account's reset code was mailed");
    assert!(app.mails_to_within(ghost, 1, Duration::ZERO).await.is_empty());
}

portcullis_e2e::on_both_backends!(
    answers_for_an_account_and_for_nobody_wait_for_the_same_floor,
    a_mailed_code_signs_in_once_with_the_answer_of_a_password_login,
    every_address_gets_one_answer_and_only_an_account_gets_mail,
    wrong_unknown_replaced_and_expired_codes_get_one_answer,
    malformed_requests_are_validation_errors_and_cost_no_attempt,
    account_state_is_told_only_after_a_right_code,
    a_second_factor_finishes_a_code_sign_in_at_aal_2,
    wrong_codes_and_wrong_passwords_share_one_lockout,
    five_wrong_codes_burn_the_code,
    parallel_redemptions_of_one_code_sign_in_once,
    one_code_on_two_instances_signs_in_once,
);
