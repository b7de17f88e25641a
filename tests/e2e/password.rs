//! Password recovery (`forgot-password`, `reset-password`) and change (`change-password`).

use std::time::Duration;

use portcullis_e2e::{Backend, Mail, PASSWORD, Resp, TestApp, code_in};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "a fresh and different pass phrase";
const RESET_SUBJECT: &str = "Subject: Your Portcullis password reset code";
const NOTICE_SUBJECT: &str = "Subject: Your Portcullis password was changed";

fn access_of(r: &Resp) -> String {
    r.body["access_token"].as_str().unwrap_or_else(|| panic!("no token in {r:?}")).to_owned()
}

fn with_subject<'a>(mails: &'a [Mail], subject: &str) -> Vec<&'a Mail> {
    mails.iter().filter(|m| m.data.contains(subject)).collect()
}

async fn forgot(app: &TestApp, email: &str) -> Resp {
    app.post("/api/v1/auth/forgot-password", json!({"email": email})).await
}

async fn reset(app: &TestApp, email: &str, code: &str, new_password: &str) -> Resp {
    app.post("/api/v1/auth/reset-password", json!({"email": email, "code": code, "new_password": new_password})).await
}

/// Requests a reset code for `email` and returns it (the mail is the `n`-th to the address).
async fn reset_code(app: &TestApp, email: &str, n: usize) -> String {
    assert_eq!(forgot(app, email).await.status, 200);
    let mails = app.mails_to(email, n).await;
    let mail = mails.get(n - 1).unwrap_or_else(|| panic!("mail {n} never came: {mails:?}"));
    assert!(mail.data.contains(RESET_SUBJECT), "{mail:?}");
    code_in(&mail.data).unwrap()
}

async fn a_mailed_code_resets_the_password_and_signs_everything_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "forgot@example.com";
    let login = app.verified_login(email).await;
    let (first, refresh) = (access_of(&login), login.body["refresh_token"].as_str().unwrap().to_owned());
    let second = access_of(&app.login(email, PASSWORD).await);

    // Unknown addresses get the same answer and no mail.
    let known = forgot(&app, email).await;
    assert_eq!(known.status, 200, "{known:?}");
    assert_eq!(known.body["status"], "success");
    let unknown = forgot(&app, "ghost@example.com").await;
    assert_eq!((unknown.status, &unknown.body), (200, &known.body));
    let mails = app.mails_to(email, 4).await;
    let code = code_in(&with_subject(&mails, RESET_SUBJECT)[0].data).unwrap();
    assert!(app.mails_to_within("ghost@example.com", 1, Duration::from_millis(500)).await.is_empty());

    // Bad bodies first, then wrong codes.
    for (body, field) in [
        (json!({"email": email, "code": code, "new_password": "too short"}), "new_password"),
        (json!({"email": email, "code": code, "new_password": email}), "new_password"),
        (json!({"email": email, "code": code, "new_password": "aaaaaaaaaaaaaaaa"}), "new_password"),
        (json!({"email": email, "code": code}), "new_password"),
        (json!({"email": email, "code": "12ab", "new_password": NEW_PASSWORD}), "code"),
        (json!({"email": "not an email", "code": code, "new_password": NEW_PASSWORD}), "email"),
    ] {
        let r = app.post("/api/v1/auth/reset-password", body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
    }
    let wrong = if code == "000000" { "111111" } else { "000000" };
    reset(&app, email, wrong, NEW_PASSWORD).await.assert_problem(400, "INVALID_CODE");
    reset(&app, "ghost@example.com", &code, NEW_PASSWORD).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(app.get("/api/v1/users/me", Some(&first)).await.status, 200, "nothing changed yet");

    let r = reset(&app, email, &code, NEW_PASSWORD).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "success");
    for token in [&first, &second] {
        app.get("/api/v1/users/me", Some(token)).await.assert_problem(401, "UNAUTHORIZED");
    }
    app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh})).await.assert_problem(401, "UNAUTHORIZED");
    let mails = app.mails_to(email, 5).await;
    assert_eq!(with_subject(&mails, NOTICE_SUBJECT).len(), 1, "{mails:?}");
    reset(&app, email, &code, "yet another new pass phrase").await.assert_problem(400, "INVALID_CODE");

    app.login(email, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    let token = access_of(&app.login(email, NEW_PASSWORD).await);
    let events = app.get("/api/v1/auth/security-events?limit=100", Some(&token)).await;
    let actions: Vec<&str> =
        events.body["data"]["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["auth.password.reset", "auth.password.reset_requested"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }

    for body in [json!({"email": "nope"}), json!({}), json!({"email": 5})] {
        let r = app.post("/api/v1/auth/forgot-password", body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "email");
    }
}

async fn reset_codes_expire_and_burn(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "burn@example.com";
    app.verified_login(email).await;
    let code = reset_code(&app, email, 3).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        reset(&app, email, wrong, NEW_PASSWORD).await.assert_problem(400, "INVALID_CODE");
    }
    reset(&app, email, &code, NEW_PASSWORD).await.assert_problem(400, "CODE_ATTEMPTS_EXCEEDED");

    // A new code (past the one-a-minute mail limit) works until it expires.
    app.age_rate_events(3600).await;
    let code = reset_code(&app, email, 4).await;
    app.sql(
        "UPDATE verification_codes SET expires_at = 0 WHERE purpose = 'reset_password'",
        "UPDATE verification_codes SET expires_at = 'epoch' WHERE purpose = 'reset_password'",
    )
    .await;
    reset(&app, email, &code, NEW_PASSWORD).await.assert_problem(400, "CODE_EXPIRED");
    assert_eq!(app.login(email, PASSWORD).await.status, 200, "the password is unchanged");
}

async fn change(app: &TestApp, token: Option<&str>, body: Value) -> Resp {
    app.call("POST", "/api/v1/auth/change-password", Some(body), token, &[]).await
}

async fn changing_the_password_keeps_this_session_and_ends_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "change@example.com";
    let this = access_of(&app.verified_login(email).await);
    let other_login = app.login(email, PASSWORD).await;
    let other = access_of(&other_login);

    for (body, field) in [
        (json!({"current_password": "", "new_password": NEW_PASSWORD}), "current_password"),
        (json!({"new_password": NEW_PASSWORD}), "current_password"),
        (json!({"current_password": PASSWORD, "new_password": "too short"}), "new_password"),
        (json!({"current_password": PASSWORD, "new_password": "1234567890123456"}), "new_password"),
        (json!({"current_password": PASSWORD}), "new_password"),
    ] {
        let r = change(&app, Some(&this), body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
    }
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    change(&app, None, body.clone()).await.assert_problem(401, "UNAUTHORIZED");
    let wrong =
        change(&app, Some(&this), json!({"current_password": "not my password at all", "new_password": NEW_PASSWORD}))
            .await;
    wrong.assert_problem(401, "INVALID_CREDENTIALS");
    assert_eq!(wrong.header("www-authenticate"), None, "the password, not the token, was wrong");

    let r = change(&app, Some(&this), body.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "success");
    assert!(r.body["message"].is_string());
    assert_eq!(app.get("/api/v1/users/me", Some(&this)).await.status, 200, "this session keeps working");
    app.get("/api/v1/users/me", Some(&other)).await.assert_problem(401, "UNAUTHORIZED");
    let refresh = other_login.body["refresh_token"].as_str().unwrap();
    app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh})).await.assert_problem(401, "UNAUTHORIZED");
    let mails = app.mails_to(email, 4).await;
    assert_eq!(with_subject(&mails, NOTICE_SUBJECT).len(), 1, "{mails:?}");

    app.login(email, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    assert_eq!(app.login(email, NEW_PASSWORD).await.status, 200);
    let events = app.get("/api/v1/auth/security-events?action=auth.password.changed", Some(&this)).await;
    assert_eq!(events.body["data"]["total_count"], 1, "{events:?}");
}

async fn wrong_current_passwords_share_the_login_lockout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "guess@example.com";
    let token = access_of(&app.verified_login(email).await);
    let guess = |password: &str| json!({"current_password": password, "new_password": NEW_PASSWORD});
    for i in 0..5 {
        change(&app, Some(&token), guess(&format!("guess number {i} of many")))
            .await
            .assert_problem(401, "INVALID_CREDENTIALS");
    }
    let r = change(&app, Some(&token), guess(PASSWORD)).await;
    r.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1800).contains(&wait), "{wait}");
    app.login(email, PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
}

portcullis_e2e::on_both_backends!(
    a_mailed_code_resets_the_password_and_signs_everything_out,
    reset_codes_expire_and_burn,
    changing_the_password_keeps_this_session_and_ends_the_others,
    wrong_current_passwords_share_the_login_lockout,
);
