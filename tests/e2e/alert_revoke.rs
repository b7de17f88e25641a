//! The "Not you?" link of the new-sign-in mail: `GET` shows a page and changes nothing,
//! `POST` (JSON or the page's form) signs that session out once and mails a reset code.

use std::time::Duration;

use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp, code_in};
use serde_json::json;

const PATH: &str = "/api/v1/auth/sessions/revoke-from-alert";
const FORM: &str = "application/x-www-form-urlencoded";
const RESET_SUBJECT: &str = "Subject: Your Portcullis password reset code";

fn access_of(r: &Resp) -> String {
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// The token of the "Not you?" link in the `n`-th (1-based) mail to `to`.
async fn alert_token(app: &TestApp, to: &str, n: usize) -> String {
    let mail = app.mails_to(to, n).await[n - 1].data.clone();
    let link = "http://portcullis.test/api/v1/auth/sessions/revoke-from-alert?token=";
    let token = mail.split(link).nth(1).unwrap_or_else(|| panic!("no link in {mail}"));
    token.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).next().unwrap().to_owned()
}

/// How many mails `to` has received after waiting a moment for more than `expected`.
async fn settled_mail_count(app: &TestApp, to: &str, expected: usize) -> usize {
    app.mails_to_within(to, expected + 1, Duration::from_millis(800)).await.len()
}

async fn the_link_shows_a_form_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "page@example.com";
    let access = access_of(&app.verified_login(email).await);
    let token = alert_token(&app, email, 2).await;

    // Mail scanners may fetch the link any number of times.
    for _ in 0..3 {
        let page = app.get(&format!("{PATH}?token={token}"), None).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert_eq!(page.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.header("referrer-policy").as_deref(), Some("no-referrer"));
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        assert!(page.text.contains("<form method=\"post\" action=\"revoke-from-alert\">"), "{}", page.text);
        assert!(page.text.contains(&format!("name=\"token\" value=\"{token}\"")), "{}", page.text);
        for external in ["<script", "src=", "href=", "http://", "https://"] {
            assert!(!page.text.contains(external), "{external}: {}", page.text);
        }
    }
    assert_eq!(app.get("/api/v1/users/me", Some(&access)).await.status, 200, "still signed in");
    assert_eq!(settled_mail_count(&app, email, 2).await, 2, "no reset code was mailed");

    // A crafted link cannot inject markup.
    let page = app.get(&format!("{PATH}?token=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""), "{}", page.text);
    assert!(!page.text.contains("<script"));

    for query in ["", "?token=", "?other=1"] {
        let r = app.get(&format!("{PATH}{query}"), None).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "token", "{query}");
    }
    app.get(&format!("{PATH}?token={}", "x".repeat(513)), None).await.assert_problem(400, "VALIDATION_ERROR");
}

async fn posting_the_token_signs_that_session_out_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "notme@example.com";
    let first = access_of(&app.verified_login(email).await);
    let token = alert_token(&app, email, 2).await;
    let other = access_of(&app.login(email, PASSWORD).await);

    let r = app.post(PATH, json!({"token": token})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "success");
    assert!(r.body["message"].is_string());
    app.get("/api/v1/users/me", Some(&first)).await.assert_problem(401, "UNAUTHORIZED");
    assert_eq!(app.get("/api/v1/users/me", Some(&other)).await.status, 200, "only the alerted session ends");

    // A password-reset code is mailed (after the verification mail and two sign-in alerts).
    let mails = app.mails_to(email, 4).await;
    let resets: Vec<_> = mails.iter().filter(|m| m.data.contains(RESET_SUBJECT)).collect();
    assert_eq!(resets.len(), 1, "{mails:?}");
    assert!(code_in(&resets[0].data).is_some());

    // Used, unknown: the same answer, and nothing more happens.
    let again = app.post(PATH, json!({"token": token})).await;
    assert_eq!((again.status, &again.body), (200, &r.body));
    let unknown = app.post(PATH, json!({"token": "no-such-token"})).await;
    assert_eq!((unknown.status, &unknown.body), (200, &r.body));
    assert_eq!(settled_mail_count(&app, email, 4).await, 4, "no second reset code");

    let events = app.get("/api/v1/auth/security-events?action=auth.session.revoked", Some(&other)).await;
    assert_eq!(events.body["data"]["total_count"], 1, "{events:?}");
    assert_eq!(events.body["data"]["events"][0]["metadata"]["via"], "alert");
}

async fn the_form_of_the_page_gets_an_html_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "form@example.com";
    let access = access_of(&app.verified_login(email).await);
    let token = alert_token(&app, email, 2).await;

    let r = app.raw(PATH, Some(FORM), format!("token={token}").into_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert!(r.header("content-security-policy").is_some());
    assert!(r.text.contains("Session signed out") && !r.text.contains("<script"), "{}", r.text);
    app.get("/api/v1/users/me", Some(&access)).await.assert_problem(401, "UNAUTHORIZED");
    assert!(app.mails_to(email, 3).await[2].data.contains(RESET_SUBJECT));

    let again = app.raw(PATH, Some(FORM), format!("token={token}").into_bytes()).await;
    assert_eq!((again.status, &again.text), (200, &r.text), "a used link gets the same page");
}

async fn bad_bodies_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for body in [json!({}), json!({"token": ""}), json!({"token": "x".repeat(513)}), json!({"token": 7})] {
        let r = app.post(PATH, body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "token", "{r:?}");
    }
    for form in ["", "other=1", "token="] {
        let r = app.raw(PATH, Some(FORM), form.as_bytes().to_vec()).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "token", "{form}: {r:?}");
    }
    app.raw(PATH, Some(FORM), format!("token={}", "x".repeat(17 * 1024)).into_bytes())
        .await
        .assert_problem(413, "PAYLOAD_TOO_LARGE");
    for content_type in [Some("text/plain"), Some("multipart/form-data; boundary=x"), None] {
        let r = app.raw(PATH, content_type, b"token=abc".to_vec()).await;
        r.assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
    }
    app.call("PUT", PATH, Some(json!({"token": "abc"})), None, &[]).await.assert_problem(405, "METHOD_NOT_ALLOWED");
}

async fn the_openapi_document_describes_the_section_4_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = app.get("/api/v1/openapi.json", None).await.body;
    for (path, method) in [
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/sessions/revoke-from-alert", "get"),
        ("/api/v1/auth/sessions/revoke-from-alert", "post"),
        ("/api/v1/auth/forgot-password", "post"),
        ("/api/v1/auth/reset-password", "post"),
        ("/api/v1/auth/change-password", "post"),
        ("/api/v1/users/me/deactivate", "post"),
        ("/api/v1/users/me", "delete"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
    }
    let post = &doc["paths"][PATH]["post"];
    for media in ["application/json", FORM] {
        assert!(post["requestBody"]["content"][media].is_object(), "{media}: {post}");
    }
    assert!(post["responses"]["200"]["content"]["text/html"].is_object(), "{post}");
    assert!(doc["paths"][PATH]["get"]["responses"]["200"]["content"]["text/html"].is_object());
    for schema in ["RefreshBody", "RefreshResponse", "AlertRevokeBody", "ResetPasswordBody", "ConfirmPasswordBody"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} missing");
    }
}

portcullis_e2e::on_both_backends!(
    the_openapi_document_describes_the_section_4_endpoints,
    the_link_shows_a_form_and_changes_nothing,
    posting_the_token_signs_that_session_out_once,
    the_form_of_the_page_gets_an_html_answer,
    bad_bodies_are_refused,
);
