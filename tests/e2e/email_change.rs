//! Moving an account to another address (`POST /users/me/email`, `POST /users/me/email/confirm`)
//! and undoing it from the old address (`GET`/`POST /auth/email-change/revert`), on both
//! stores: the password and the fields checked first, one answer whether or not the address
//! is taken, the newest request the one confirmed, an address taken meanwhile, the revert
//! link's page, form and JSON, the old address kept while the link lives and freed after 7
//! days, and confirmations raced on one instance and on two.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_e2e::{Backend, Mail, PASSWORD, Resp, TestApp, code_in};
use serde_json::{Value, json};

const CHANGE: &str = "/api/v1/users/me/email";
const CONFIRM: &str = "/api/v1/users/me/email/confirm";
const REVERT: &str = "/api/v1/auth/email-change/revert";
const REVERT_LINK: &str = "http://portcullis.test/api/v1/auth/email-change/revert?token=";
const FORM: &str = "application/x-www-form-urlencoded";
/// A password other than [`PASSWORD`], for whoever registers an address after its owner.
const OTHER_PASSWORD: &str = "an entirely different pass phrase";

const CODE_SUBJECT: &str = "Subject: Confirm your new Portcullis email address";
const REQUESTED_SUBJECT: &str = "Subject: A change of your Portcullis email address was requested";
const IN_USE_SUBJECT: &str = "Subject: Someone tried to use your address for another Portcullis account";
const NOW_YOURS_SUBJECT: &str = "Subject: This is now your Portcullis email address";
const CHANGED_SUBJECT: &str = "Subject: Your Portcullis email address was changed";
const RESTORED_SUBJECT: &str = "Subject: Your Portcullis email address was restored";
const VERIFY_SUBJECT: &str = "Subject: Your Portcullis verification code";

async fn request_change(app: &TestApp, token: &str, password: &str, new_email: &str) -> Resp {
    let body = json!({"password": password, "new_email": new_email});
    app.call("POST", CHANGE, Some(body), Some(token), &[]).await
}

async fn confirm(app: &TestApp, token: &str, code: &str) -> Resp {
    app.call("POST", CONFIRM, Some(json!({"code": code})), Some(token), &[]).await
}

async fn revert_json(app: &TestApp, token: &str) -> Resp {
    app.post(REVERT, json!({"token": token})).await
}

async fn revert_form(app: &TestApp, token: &str) -> Resp {
    app.raw(REVERT, Some(FORM), format!("token={token}").into_bytes()).await
}

fn access_of(r: &Resp) -> String {
    r.body["access_token"].as_str().unwrap_or_else(|| panic!("no access token in {r:?}")).to_owned()
}

fn refresh_of(r: &Resp) -> String {
    r.body["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token in {r:?}")).to_owned()
}

fn id_of(r: &Resp) -> String {
    r.body["data"]["id"].as_str().unwrap_or_else(|| panic!("no user id in {r:?}")).to_owned()
}

/// A well-formed code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The address `GET /users/me` shows for the session of `token`.
async fn me_email(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/v1/users/me", Some(token)).await;
    assert_eq!(me.status, 200, "{me:?}");
    me.body["data"]["email"].as_str().unwrap_or_else(|| panic!("no email in {me:?}")).to_owned()
}

/// The mails to `to` with `subject`, oldest first, once `n` of them have arrived, or those
/// there are when `patience` runs out.
async fn mails_with(app: &TestApp, to: &str, subject: &str, n: usize, patience: Duration) -> Vec<Mail> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let mails: Vec<Mail> = app
            .mails_to_within(to, usize::MAX, Duration::ZERO)
            .await
            .into_iter()
            .filter(|m| m.data.contains(subject))
            .collect();
        if mails.len() >= n || tokio::time::Instant::now() > deadline {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `n`-th (1-based) mail to `to` with `subject`, waited for.
async fn nth_mail(app: &TestApp, to: &str, subject: &str, n: usize) -> Mail {
    let mails = mails_with(app, to, subject, n, Duration::from_secs(10)).await;
    mails.get(n - 1).cloned().unwrap_or_else(|| panic!("mail {n} to {to} with {subject:?} never came: {mails:?}"))
}

/// How many mails to `to` with `subject` there are after waiting a moment for more than
/// `expected`.
async fn settled(app: &TestApp, to: &str, subject: &str, expected: usize) -> usize {
    mails_with(app, to, subject, expected + 1, Duration::from_millis(800)).await.len()
}

/// The code of the `n`-th (1-based) address-change code mail to `to`.
async fn change_code(app: &TestApp, to: &str, n: usize) -> String {
    let mail = nth_mail(app, to, CODE_SUBJECT, n).await;
    code_in(&mail.data).unwrap_or_else(|| panic!("no code in {mail:?}"))
}

/// The token of the revert link in a "your address was changed" mail.
fn revert_token(mail: &Mail) -> String {
    let after = mail.data.split(REVERT_LINK).nth(1).unwrap_or_else(|| panic!("no revert link in {mail:?}"));
    let token = after.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).next().unwrap();
    assert!(token.len() >= 32, "{token:?} in {mail:?}");
    token.to_owned()
}

/// The text part of a mail, from its greeting to its signature.
fn text_part(mail: &Mail) -> String {
    let start = mail.data.find("Hello ").unwrap_or_else(|| panic!("no greeting in {mail:?}"));
    let rest = &mail.data[start..];
    let end = rest.find("-- Portcullis").unwrap_or_else(|| panic!("no signature in {mail:?}"));
    rest[..end].to_owned()
}

/// Moves the account of `token` from `old` to `new` (the first change to `new` and from
/// `old` in the test) and returns the token of the revert link mailed to `old`.
async fn move_account(app: &TestApp, token: &str, old: &str, new: &str) -> String {
    let r = request_change(app, token, PASSWORD, new).await;
    assert_eq!(r.status, 200, "{r:?}");
    let code = change_code(app, new, 1).await;
    let r = confirm(app, token, &code).await;
    assert_eq!(r.status, 200, "{r:?}");
    revert_token(&nth_mail(app, old, CHANGED_SUBJECT, 1).await)
}

/// The security events of `token`'s user with this action, after checking that none holds
/// an address (only a reversal has metadata: how many factors it removed).
async fn audited(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/auth/security-events?action={action}&limit=100"), Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let events = r.body["data"]["events"].as_array().unwrap().clone();
    assert_eq!(r.body["data"]["total_count"], json!(events.len()), "{r:?}");
    for event in &events {
        assert_eq!(event["action"], action, "{event}");
        let expected = if action == "user.email.change_reverted" { json!({"factors_removed": 0}) } else { json!({}) };
        assert_eq!(event["metadata"], expected, "an address change's entry names no address: {event}");
    }
    events
}

/// The `metadata` of `token`'s user's failed sign-ins, newest first.
async fn failures(app: &TestApp, token: &str) -> Vec<Value> {
    let h = app.get("/api/v1/auth/login-history?filter=failure&limit=100", Some(token)).await;
    assert_eq!(h.status, 200, "{h:?}");
    h.body["data"]["history"].as_array().unwrap().iter().map(|e| e["metadata"].clone()).collect()
}

async fn a_confirmed_change_moves_the_sign_in_to_the_new_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("moving@example.com", "moved@example.org");
    let login = app.verified_login(old).await;
    let token = access_of(&login);

    let r = request_change(&app, &token, PASSWORD, new).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "success");
    assert!(r.body["message"].is_string(), "{r:?}");
    let notice = nth_mail(&app, old, REQUESTED_SUBJECT, 1).await;
    assert!(notice.data.contains(new), "the notice names the new address: {notice:?}");
    let code = change_code(&app, new, 1).await;
    assert_eq!(me_email(&app, &token).await, old, "nothing changes before the code");
    assert_eq!(app.login(old, PASSWORD).await.status, 200);

    for bad in ["12345", "1234567", "12a456", ""] {
        let r = confirm(&app, &token, bad).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "code", "{bad:?}: {r:?}");
    }
    confirm(&app, &token, other_than(&code)).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(me_email(&app, &token).await, old);

    let r = confirm(&app, &token, &code).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, json!({"status": "success", "message": "Email address changed.", "email": new}));
    assert_eq!(me_email(&app, &token).await, new, "the session is kept and sees the new address");
    confirm(&app, &token, &code).await.assert_problem(400, "INVALID_CODE");

    app.login(old, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    let signed_in = app.login(new, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!((id_of(&signed_in), &signed_in.body["data"]["email"]), (id_of(&login), &json!(new)));

    nth_mail(&app, new, NOW_YOURS_SUBJECT, 1).await;
    let changed = nth_mail(&app, old, CHANGED_SUBJECT, 1).await;
    assert!(changed.data.contains(new), "{changed:?}");
    revert_token(&changed);
    assert_eq!(settled(&app, new, NOW_YOURS_SUBJECT, 1).await, 1);
    assert_eq!(settled(&app, old, CHANGED_SUBJECT, 1).await, 1);

    assert_eq!(audited(&app, &token, "user.email.change_requested").await.len(), 1);
    assert_eq!(audited(&app, &token, "user.email.changed").await.len(), 1);
    assert!(audited(&app, &token, "user.email.change_reverted").await.is_empty());

    // The data export lists the change, and nothing of its link but when it ends.
    let export = app.get("/api/v1/users/me/export", Some(token.as_str())).await;
    assert_eq!(export.status, 200, "{export:?}");
    let changes = export.body["email_changes"].as_array().expect("email_changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((&changes[0]["old_email"], &changes[0]["new_email"]), (&json!(old), &json!(new)));
    assert!(changes[0]["confirmed_at"].is_string() && changes[0]["revert_link_expires_at"].is_string());
    assert!(changes[0]["reverted_at"].is_null());
    assert!(!export.text.contains(&revert_token(&changed)), "the link's token stays out of the export");
}

async fn the_token_the_fields_and_the_password_are_checked_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("careful@example.com", "careless@example.org");
    let token = access_of(&app.verified_login(old).await);

    // The token before the body.
    app.call("POST", CHANGE, Some(json!({})), None, &[]).await.assert_problem(401, "UNAUTHORIZED");
    let body = json!({"password": PASSWORD, "new_email": new});
    app.call("POST", CHANGE, Some(body), Some("not-a-token"), &[]).await.assert_problem(401, "UNAUTHORIZED");

    for (password, new_email, field) in [
        ("", new, "password"),
        (PASSWORD, "not an address", "new_email"),
        (PASSWORD, "", "new_email"),
        // The right password, and the account's own address.
        (PASSWORD, old, "new_email"),
    ] {
        let r = request_change(&app, &token, password, new_email).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{password:?} {new_email:?}: {r:?}");
    }

    // Wrong passwords are failed sign-ins of the address.
    for i in 0..5 {
        let r = request_change(&app, &token, &format!("guess number {i} of many"), new).await;
        r.assert_problem(401, "INVALID_CREDENTIALS");
        assert_eq!(r.header("www-authenticate"), None, "the password, not the token, was wrong");
    }
    let r = request_change(&app, &token, PASSWORD, new).await;
    r.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1800).contains(&wait), "{wait}");
    app.login(old, PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    // Audited as failed sign-ins of their own method (the refused login adds one of its own).
    let failed = failures(&app, &token).await;
    let reauth: Vec<&Value> = failed.iter().filter(|m| m["method"] == "reauthentication").collect();
    assert_eq!(reauth.len(), 5, "{failed:?}");
    let wrong = json!({"reason": "invalid_password", "method": "reauthentication"});
    assert!(reauth.iter().all(|m| **m == wrong), "{failed:?}");

    // Nothing was mailed or recorded.
    assert_eq!(settled(&app, new, CODE_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, old, REQUESTED_SUBJECT, 0).await, 0);
    assert!(audited(&app, &token, "user.email.change_requested").await.is_empty());

    // Once the lockout has passed, the right password goes through: the refusals above did
    // not use the account's request allowance.
    app.age_rate_events(31 * 60).await;
    let r = request_change(&app, &token, PASSWORD, new).await;
    assert_eq!(r.status, 200, "{r:?}");
    change_code(&app, new, 1).await;
}

async fn one_request_a_minute_and_the_newest_is_the_one_confirmed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, first, second) = ("hasty@example.com", "first.choice@example.org", "second.choice@example.org");
    let token = access_of(&app.verified_login(old).await);

    assert_eq!(request_change(&app, &token, PASSWORD, first).await.status, 200);
    let first_code = change_code(&app, first, 1).await;
    let r = request_change(&app, &token, PASSWORD, second).await;
    r.assert_problem(429, "RATE_LIMIT_EXCEEDED");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(settled(&app, second, CODE_SUBJECT, 0).await, 0, "the refused request mailed no code");
    assert_eq!(settled(&app, old, REQUESTED_SUBJECT, 1).await, 1, "nor a notice");

    // A minute later, a second request replaces the first.
    app.age_rate_events(120).await;
    assert_eq!(request_change(&app, &token, PASSWORD, second).await.status, 200);
    let second_code = change_code(&app, second, 1).await;
    if first_code != second_code {
        confirm(&app, &token, &first_code).await.assert_problem(400, "INVALID_CODE");
    }
    let r = confirm(&app, &token, &second_code).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["email"], second);
    assert_eq!(me_email(&app, &token).await, second);
    app.login(first, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    assert_eq!(app.login(second, PASSWORD).await.status, 200);
    assert_eq!(settled(&app, first, CODE_SUBJECT, 1).await, 1);
    assert_eq!(settled(&app, first, NOW_YOURS_SUBJECT, 0).await, 0);
    assert_eq!(audited(&app, &token, "user.email.change_requested").await.len(), 2);
}

async fn a_taken_address_gets_a_warning_instead_of_a_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mover, holder, free, gone) =
        ("mover@example.com", "holder@example.net", "free@example.org", "gone@example.net");
    let token = access_of(&app.verified_login(mover).await);
    app.verified_login(holder).await;
    app.verified_login(gone).await;
    app.sql(
        "UPDATE users SET deleted_at = 1 WHERE email = 'gone@example.net'",
        "UPDATE users SET deleted_at = now() WHERE email = 'gone@example.net'",
    )
    .await;

    // Another account's address: its owner is warned, and no code goes anywhere.
    let taken = request_change(&app, &token, PASSWORD, holder).await;
    assert_eq!(taken.status, 200, "{taken:?}");
    let warning = nth_mail(&app, holder, IN_USE_SUBJECT, 1).await;
    assert!(!warning.data.contains(mover), "the warning does not say who asked: {warning:?}");
    let notice_taken = nth_mail(&app, mover, REQUESTED_SUBJECT, 1).await;
    assert!(notice_taken.data.contains(holder), "{notice_taken:?}");

    // A free address: the same answer, the same notice, and a code.
    app.age_rate_events(120).await;
    let open = request_change(&app, &token, PASSWORD, free).await;
    assert_eq!((open.status, &open.body), (200, &taken.body));
    let free_code = change_code(&app, free, 1).await;
    let notice_free = nth_mail(&app, mover, REQUESTED_SUBJECT, 2).await;
    assert_eq!(
        text_part(&notice_taken).replace(holder, "ADDRESS"),
        text_part(&notice_free).replace(free, "ADDRESS"),
        "the caller cannot tell a taken address from a free one"
    );

    // A deleted account's address: the same answer, and nobody to warn.
    app.age_rate_events(120).await;
    let deleted = request_change(&app, &token, PASSWORD, gone).await;
    assert_eq!((deleted.status, &deleted.body), (200, &taken.body));
    nth_mail(&app, mover, REQUESTED_SUBJECT, 3).await;

    assert_eq!(settled(&app, holder, CODE_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, holder, IN_USE_SUBJECT, 1).await, 1);
    assert_eq!(settled(&app, gone, CODE_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, gone, IN_USE_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, mover, CODE_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, free, CODE_SUBJECT, 1).await, 1);

    // The newest request (to the deleted account's address) replaced the free one's code,
    // and cannot go through.
    confirm(&app, &token, &free_code).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(me_email(&app, &token).await, mover);
    assert_eq!(audited(&app, &token, "user.email.change_requested").await.len(), 3);
    assert!(audited(&app, &token, "user.email.changed").await.is_empty());
}

async fn an_address_registered_before_the_confirmation_is_not_switched_to(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mover, late) = ("slow@example.com", "late@example.org");
    let login = app.verified_login(mover).await;
    let token = access_of(&login);
    assert_eq!(request_change(&app, &token, PASSWORD, late).await.status, 200);
    let code = change_code(&app, late, 1).await;

    // A pending change reserves nothing: someone registers the address first.
    assert_eq!(app.register(late, PASSWORD).await.status, 201);
    let verification = code_in(&nth_mail(&app, late, VERIFY_SUBJECT, 1).await.data).unwrap();

    confirm(&app, &token, &code).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(me_email(&app, &token).await, mover, "the address is unchanged");
    assert_eq!(app.login(mover, PASSWORD).await.status, 200);
    assert_eq!(settled(&app, late, NOW_YOURS_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, mover, CHANGED_SUBJECT, 0).await, 0);
    assert!(audited(&app, &token, "user.email.changed").await.is_empty());

    // The address is the registrant's.
    let r = app.post("/api/v1/auth/verify-email", json!({"email": late, "code": verification})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let theirs = app.login(late, PASSWORD).await;
    assert_eq!(theirs.status, 200, "{theirs:?}");
    assert_ne!(id_of(&theirs), id_of(&login));
}

async fn the_revert_page_changes_nothing_and_its_form_undoes_the_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("page@example.com", "elsewhere@example.org");
    let login = app.verified_login(old).await;
    let access = access_of(&login);
    let token = move_account(&app, &access, old, new).await;

    // Mail scanners may fetch the link any number of times.
    for _ in 0..3 {
        let page = app.get(&format!("{REVERT}?token={token}"), None).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert_eq!(page.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(page.header("referrer-policy").as_deref(), Some("no-referrer"));
        assert!(page.text.contains("<form method=\"post\" action=\"revert\">"), "{}", page.text);
        assert!(page.text.contains(&format!("name=\"token\" value=\"{token}\"")), "{}", page.text);
    }
    for query in ["", "?token=", "?other=1"] {
        let r = app.get(&format!("{REVERT}{query}"), None).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "token", "{query}: {r:?}");
    }
    assert_eq!(me_email(&app, &access).await, new, "still moved, still signed in");
    assert_eq!(settled(&app, old, RESTORED_SUBJECT, 0).await, 0);

    // The page's button.
    let r = revert_form(&app, &token).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert!(r.text.contains("Address change undone"), "{}", r.text);
    app.get("/api/v1/users/me", Some(&access)).await.assert_problem(401, "UNAUTHORIZED");
    let back = app.login(old, PASSWORD).await;
    assert_eq!((back.status, id_of(&back)), (200, id_of(&login)), "{back:?}");
    app.login(new, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    nth_mail(&app, old, RESTORED_SUBJECT, 1).await;

    // The link works once.
    let again = revert_form(&app, &token).await;
    assert_eq!(again.status, 400, "{again:?}");
    assert_eq!(again.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert!(again.text.contains("Link not valid"), "{}", again.text);
    revert_json(&app, &token).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(settled(&app, old, RESTORED_SUBJECT, 1).await, 1);
}

async fn the_revert_link_restores_the_old_address_and_signs_every_session_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("victim@example.com", "intruder@example.org");
    let first = app.verified_login(old).await;
    let second = app.login(old, PASSWORD).await;
    let token = move_account(&app, &access_of(&first), old, new).await;
    let third = app.login(new, PASSWORD).await;
    assert_eq!(third.status, 200, "{third:?}");

    for body in [json!({}), json!({"token": ""}), json!({"token": "x".repeat(513)})] {
        let r = app.post(REVERT, body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "token", "{r:?}");
    }
    revert_json(&app, "no-such-token").await.assert_problem(400, "INVALID_CODE");

    let r = revert_json(&app, &token).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "success");
    assert!(r.body["message"].is_string(), "{r:?}");

    // Every session, before and after the change, is signed out.
    for session in [&first, &second, &third] {
        app.get("/api/v1/users/me", Some(&access_of(session))).await.assert_problem(401, "UNAUTHORIZED");
    }
    for session in [&first, &third] {
        let body = json!({"refresh_token": refresh_of(session)});
        app.post("/api/v1/auth/refresh", body).await.assert_problem(401, "UNAUTHORIZED");
    }
    app.login(new, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    let back = app.login(old, PASSWORD).await;
    assert_eq!(back.status, 200, "{back:?}");
    assert_eq!((id_of(&back), &back.body["data"]["email"]), (id_of(&first), &json!(old)));
    let fresh = access_of(&back);
    assert_eq!(me_email(&app, &fresh).await, old);

    let restored = nth_mail(&app, old, RESTORED_SUBJECT, 1).await;
    assert!(restored.recipients.iter().any(|r| r.contains(old)), "{restored:?}");
    assert_eq!(settled(&app, new, RESTORED_SUBJECT, 0).await, 0);
    assert_eq!(audited(&app, &fresh, "user.email.change_reverted").await.len(), 1);

    // Once only.
    revert_json(&app, &token).await.assert_problem(400, "INVALID_CODE");
    assert_eq!(me_email(&app, &fresh).await, old, "the failed second use signed nobody out");
    assert_eq!(settled(&app, old, RESTORED_SUBJECT, 1).await, 1);
    assert_eq!(audited(&app, &fresh, "user.email.change_reverted").await.len(), 1);
}

async fn the_old_address_stays_reserved_while_the_link_lives(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new, other) = ("kept@example.com", "away@example.org", "third@example.net");
    let owner = app.verified_login(old).await;
    let token = move_account(&app, &access_of(&owner), old, new).await;

    // Registering it answers as usual, and creates nothing.
    assert_eq!(app.register(old, OTHER_PASSWORD).await.status, 201);
    assert!(app.stored_user(old).await.is_none(), "no account took the reserved address");
    app.login(old, OTHER_PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    app.login(old, PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    assert_eq!(settled(&app, old, VERIFY_SUBJECT, 1).await, 1, "only the owner's own verification code");

    // Another account asking to move to it gets the usual answer, and no code goes out.
    let third = access_of(&app.verified_login(other).await);
    let r = request_change(&app, &third, PASSWORD, old).await;
    assert_eq!(r.status, 200, "{r:?}");
    nth_mail(&app, other, REQUESTED_SUBJECT, 1).await;
    assert_eq!(settled(&app, old, CODE_SUBJECT, 0).await, 0);
    assert_eq!(settled(&app, old, IN_USE_SUBJECT, 0).await, 0);

    // So the owner's way back is open.
    let r = revert_json(&app, &token).await;
    assert_eq!(r.status, 200, "{r:?}");
    let back = app.login(old, PASSWORD).await;
    assert_eq!((back.status, id_of(&back)), (200, id_of(&owner)), "{back:?}");
    assert_eq!(me_email(&app, &third).await, other);
}

async fn after_seven_days_the_link_is_dead_and_the_old_address_free(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("expiring@example.com", "settled@example.org");
    let owner = app.verified_login(old).await;
    let token = move_account(&app, &access_of(&owner), old, new).await;

    // A minute short of seven days: still reserved.
    app.sql(
        "UPDATE email_changes SET revert_expires_at = revert_expires_at - 604740000 \
         WHERE revert_expires_at IS NOT NULL",
        "UPDATE email_changes SET revert_expires_at = revert_expires_at - interval '7 days' + interval '1 minute' \
         WHERE revert_expires_at IS NOT NULL",
    )
    .await;
    assert_eq!(app.register(old, OTHER_PASSWORD).await.status, 201);
    assert!(app.stored_user(old).await.is_none(), "still reserved");

    // Seven days and a minute: the link does nothing.
    app.sql(
        "UPDATE email_changes SET revert_expires_at = revert_expires_at - 120000 WHERE revert_expires_at IS NOT NULL",
        "UPDATE email_changes SET revert_expires_at = revert_expires_at - interval '2 minutes' \
         WHERE revert_expires_at IS NOT NULL",
    )
    .await;
    revert_json(&app, &token).await.assert_problem(400, "INVALID_CODE");
    let form = revert_form(&app, &token).await;
    assert_eq!(form.status, 400, "{form:?}");
    assert!(form.text.contains("Link not valid"), "{}", form.text);
    let moved = app.login(new, PASSWORD).await;
    assert_eq!((moved.status, id_of(&moved)), (200, id_of(&owner)), "{moved:?}");
    assert_eq!(settled(&app, old, RESTORED_SUBJECT, 0).await, 0);

    // And the old address is anybody's (past the address's mail allowance used above).
    app.age_rate_events(120).await;
    assert_eq!(app.register(old, OTHER_PASSWORD).await.status, 201);
    let code = code_in(&nth_mail(&app, old, VERIFY_SUBJECT, 2).await.data).unwrap();
    let r = app.post("/api/v1/auth/verify-email", json!({"email": old, "code": code})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let theirs = app.login(old, OTHER_PASSWORD).await;
    assert_eq!(theirs.status, 200, "{theirs:?}");
    assert_ne!(id_of(&theirs), id_of(&owner));
}

/// How many accounts race for one address.
const RACERS: usize = 4;

/// `RACERS` accounts ask to move to one address, then all confirm at once, alternately
/// through `a` and `b`: exactly one gets the address.
async fn the_link_leaves_an_intruder_no_code_to_come_back_with(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("owner@example.com", "intruder@example.org");
    let token = access_of(&app.verified_login(old).await);
    let revert = move_account(&app, &token, old, new).await;
    // Whoever holds the new address keeps a sign-in code in reserve...
    let r = app.post("/api/v1/auth/login/code", json!({"email": new})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let mail = nth_mail(&app, new, "Subject: Your Portcullis sign-in code", 1).await;
    let code = code_in(&mail.data).unwrap_or_else(|| panic!("no code in {mail:?}"));
    // ...which the owner's link ends with the rest.
    assert_eq!(revert_json(&app, &revert).await.status, 200);
    for address in [old, new] {
        let body = json!({"email": address, "code": code});
        let r = app.post("/api/v1/auth/login/code/verify", body).await;
        r.assert_problem(401, "INVALID_CREDENTIALS");
    }
}

async fn accounts_race_for_one_address(a: &TestApp, b: &TestApp) {
    let wanted = "prize@example.org";
    let olds: Vec<String> = (1..=RACERS).map(|i| format!("racer{i}@example.com")).collect();
    let (mut tokens, mut ids) = (Vec::new(), Vec::new());
    for old in &olds {
        let login = a.verified_login(old).await;
        tokens.push(access_of(&login));
        ids.push(id_of(&login));
    }
    // Each request mails its own code to the address, in order.
    let mut codes = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        // The address's own mail allowance is one a minute, whoever asks.
        a.age_rate_events(61).await;
        let r = request_change(a, token, PASSWORD, wanted).await;
        assert_eq!(r.status, 200, "{r:?}");
        codes.push(change_code(a, wanted, i + 1).await);
    }

    let instance = |i: usize| if i.is_multiple_of(2) { a } else { b };
    let results = join_all((0..RACERS).map(|i| confirm(instance(i), &tokens[i], &codes[i]))).await;
    let winners: Vec<usize> = (0..RACERS).filter(|&i| results[i].status == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0];
    assert_eq!(results[winner].body["email"], wanted, "{results:?}");
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != winner) {
        r.assert_problem(400, "INVALID_CODE");
        assert_eq!(me_email(b, &tokens[i]).await, olds[i], "a loser keeps its address");
        assert_eq!(b.login(&olds[i], PASSWORD).await.status, 200);
    }
    assert_eq!(me_email(b, &tokens[winner]).await, wanted);
    let signed_in = b.login(wanted, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(id_of(&signed_in), ids[winner], "the address is the winner's alone");
    a.login(&olds[winner], PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");

    nth_mail(a, &olds[winner], CHANGED_SUBJECT, 1).await;
    assert_eq!(settled(a, wanted, NOW_YOURS_SUBJECT, 1).await, 1);
    for (i, old) in olds.iter().enumerate() {
        let expected = usize::from(i == winner);
        let changed = mails_with(a, old, CHANGED_SUBJECT, expected + 1, Duration::ZERO).await;
        assert_eq!(changed.len(), expected, "{old}: {changed:?}");
    }
}

async fn accounts_confirming_one_address_at_once_get_it_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    accounts_race_for_one_address(&app, &app).await;
}

async fn accounts_confirming_one_address_on_two_instances_get_it_once(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    accounts_race_for_one_address(&a, &b).await;
}

async fn one_code_sent_many_times_at_once_changes_the_address_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (old, new) = ("eager@example.com", "patient@example.org");
    let token = access_of(&app.verified_login(old).await);
    assert_eq!(request_change(&app, &token, PASSWORD, new).await.status, 200);
    let code = change_code(&app, new, 1).await;

    // Five at once: the code allows five tries, so every loser is a plain INVALID_CODE.
    let results = join_all((0..5).map(|_| confirm(&app, &token, &code))).await;
    let winners: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(winners[0].body["email"], new);
    for r in results.iter().filter(|r| r.status != 200) {
        r.assert_problem(400, "INVALID_CODE");
    }
    assert_eq!(me_email(&app, &token).await, new);
    assert_eq!(audited(&app, &token, "user.email.changed").await.len(), 1);
    nth_mail(&app, old, CHANGED_SUBJECT, 1).await;
    assert_eq!(settled(&app, old, CHANGED_SUBJECT, 1).await, 1, "one revert link");
    assert_eq!(settled(&app, new, NOW_YOURS_SUBJECT, 1).await, 1);
}

portcullis_e2e::on_both_backends!(
    a_confirmed_change_moves_the_sign_in_to_the_new_address,
    the_token_the_fields_and_the_password_are_checked_first,
    one_request_a_minute_and_the_newest_is_the_one_confirmed,
    a_taken_address_gets_a_warning_instead_of_a_code,
    an_address_registered_before_the_confirmation_is_not_switched_to,
    the_revert_page_changes_nothing_and_its_form_undoes_the_change,
    the_revert_link_restores_the_old_address_and_signs_every_session_out,
    the_old_address_stays_reserved_while_the_link_lives,
    after_seven_days_the_link_is_dead_and_the_old_address_free,
    accounts_confirming_one_address_at_once_get_it_once,
    accounts_confirming_one_address_on_two_instances_get_it_once,
    one_code_sent_many_times_at_once_changes_the_address_once,
    the_link_leaves_an_intruder_no_code_to_come_back_with,
);
