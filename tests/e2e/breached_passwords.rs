//! Section 11, breached passwords: new passwords screened against a range API (a mock of
//! Have I Been Pwned's, started here, answering with padding) or a filter file built here.
//! The screen does not touch the store, so these run on SQLite only.

use std::io::Cursor;
use std::time::{Duration, Instant};

use portcullis_breach::test_server::{Behaviour, MockRangeServer};
use portcullis_domain::model::Password;
use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp};
use serde_json::json;

const LEAKED: &str = "correct horse battery staple 2026";
const OTHER_LEAKED: &str = "another password from a breach";

fn sha1_hex(password: &str) -> String {
    portcullis_breach::sha1_of(&Password::new(password)).iter().map(|b| format!("{b:02X}")).collect()
}

fn assert_breached(r: &Resp, field: &str) {
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
    assert!(r.text.contains("breaches"), "{r:?}");
}

/// The value of `portcullis_breach_lookups_total{outcome="<outcome>"}` in a scrape.
async fn lookups(app: &TestApp, outcome: &str) -> u64 {
    let r = app.get("/metrics", None).await;
    let prefix = format!("portcullis_breach_lookups_total{{outcome=\"{outcome}\"}} ");
    let line = r.text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} in {}", r.text));
    line[prefix.len()..].parse().unwrap()
}

/// The code of the reset mail to `email` (the other mails are the sign-in alerts).
async fn reset_code(app: &TestApp, email: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails = app.mails_to(email, 1).await;
        if let Some(mail) = mails.iter().find(|m| m.data.contains("password reset code")) {
            return portcullis_e2e::code_in(&mail.data).unwrap();
        }
        assert!(Instant::now() < deadline, "no reset mail: {mails:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn range_app(server: &MockRangeServer, fail_open: bool) -> TestApp {
    let url = server.url();
    TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.passwords.breach_check = "range".to_owned();
        s.passwords.breach_api_url = url;
        s.passwords.breach_fail_open = fail_open;
        s.passwords.breach_timeout_ms = 300;
    })
    .await
}

#[actix_web::test]
async fn the_range_api_refuses_a_listed_password_and_only_a_prefix_leaves() {
    let server = MockRangeServer::start([(LEAKED, 12)]).await;
    let app = range_app(&server, true).await;

    let refused = app.register("leaked@example.com", LEAKED).await;
    assert_breached(&refused, "password");
    assert!(!refused.text.contains("12"), "the count is not shown: {refused:?}");
    assert!(app.stored_user("leaked@example.com").await.is_none(), "nothing was stored");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let hash = sha1_hex(LEAKED);
    assert_eq!(requests[0].path, format!("/range/{}", &hash[..5]));
    assert_eq!(requests[0].header("add-padding"), Some("true"));
    assert!(requests[0].header("user-agent").is_some_and(|ua| ua.starts_with("Portcullis")));
    for (name, value) in &requests[0].headers {
        assert!(!value.contains(&hash[5..]) && !value.contains(LEAKED), "{name}: {value}");
    }

    assert_eq!(app.register("fine@example.com", PASSWORD).await.status, 201);
    assert_eq!((lookups(&app, "listed").await, lookups(&app, "unlisted").await), (1, 1));
}

#[actix_web::test]
async fn padding_lines_never_refuse_a_password() {
    // A count of 0 is how the API pads its answers: such a line must not match.
    let server = MockRangeServer::start([(PASSWORD, 0)]).await;
    let app = range_app(&server, true).await;
    assert_eq!(app.register("padded@example.com", PASSWORD).await.status, 201);
    assert_eq!(lookups(&app, "unlisted").await, 1);
}

#[actix_web::test]
async fn reset_and_change_screen_the_new_password_too() {
    let server = MockRangeServer::start([(LEAKED, 3)]).await;
    let app = range_app(&server, true).await;
    let login = app.verified_login("screened@example.com").await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();

    let change = json!({"current_password": PASSWORD, "new_password": LEAKED});
    let r = app.call("POST", "/api/v1/auth/change-password", Some(change), Some(&token), &[]).await;
    assert_breached(&r, "new_password");
    assert_eq!(app.login("screened@example.com", PASSWORD).await.status, 200, "the password did not change");

    assert_eq!(app.post("/api/v1/auth/forgot-password", json!({"email": "screened@example.com"})).await.status, 200);
    let code = reset_code(&app, "screened@example.com").await;
    let reset = |password: &str| json!({"email": "screened@example.com", "code": code, "new_password": password});
    assert_breached(&app.post("/api/v1/auth/reset-password", reset(LEAKED)).await, "new_password");
    let r = app.post("/api/v1/auth/reset-password", reset("a phrase nobody has leaked yet")).await;
    assert_eq!(r.status, 200, "the same code still works: {r:?}");
}

#[actix_web::test]
async fn a_hung_range_api_fails_open_after_the_timeout() {
    let server = MockRangeServer::start([(LEAKED, 5)]).await;
    server.set_behaviour(Behaviour::Hang);
    let app = range_app(&server, true).await;
    let started = Instant::now();
    let r = app.register("open@example.com", LEAKED).await;
    assert_eq!(r.status, 201, "fail open: {r:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the lookup gave up after its timeout");
    assert_eq!(lookups(&app, "timeout").await, 1);
}

#[actix_web::test]
async fn a_failing_range_api_is_a_503_when_failing_closed() {
    let server = MockRangeServer::start([(LEAKED, 5)]).await;
    server.set_behaviour(Behaviour::Status(500));
    let app = range_app(&server, false).await;
    let r = app.register("closed@example.com", PASSWORD).await;
    r.assert_problem(503, "SERVICE_UNAVAILABLE");
    assert!(app.stored_user("closed@example.com").await.is_none());
    assert_eq!(lookups(&app, "failed").await, 1);

    server.set_behaviour(Behaviour::Garbage);
    app.register("closed@example.com", PASSWORD).await.assert_problem(503, "SERVICE_UNAVAILABLE");
    server.set_behaviour(Behaviour::Answer);
    assert_eq!(app.register("closed@example.com", PASSWORD).await.status, 201);
}

#[actix_web::test]
async fn a_filter_file_refuses_listed_passwords_without_any_network() {
    // The operator's list: HIBP's `HEX:COUNT` lines; one hash under the threshold of 2.
    let list = format!("{}:40\r\n{}:1\r\n{}:2\r\n", sha1_hex(LEAKED), sha1_hex(PASSWORD), sha1_hex(OTHER_LEAKED));
    let (filter, stats) = portcullis_breach::build_filter(Cursor::new(list), 2, "2026-11-30").unwrap();
    assert_eq!((stats.kept, stats.below_threshold), (2, 1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breach.filter");
    portcullis_breach::write_filter(&path, &filter).unwrap();

    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.passwords.breach_check = "filter".to_owned();
        s.passwords.breach_filter_file = Some(path.clone());
        s.passwords.breach_min_count = 2;
        // Nothing listens here: a lookup that tried the network would fail.
        s.passwords.breach_api_url = "http://127.0.0.1:9".to_owned();
        s.passwords.breach_fail_open = false;
    })
    .await;
    assert_breached(&app.register("one@example.com", LEAKED).await, "password");
    assert_breached(&app.register("two@example.com", OTHER_LEAKED).await, "password");
    assert_eq!(app.register("three@example.com", PASSWORD).await.status, 201, "under the threshold");
    assert_eq!((lookups(&app, "listed").await, lookups(&app, "unlisted").await), (2, 1));
}
