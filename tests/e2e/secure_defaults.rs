//! Secure defaults over HTTP: security headers on every response, CORS off unless origins
//! are configured, and a request that arrives too slowly (slowloris) cut off. The store plays
//! no part here, so these run on SQLite only.

use std::time::Duration;

use portcullis_e2e::{Backend, PASSWORD, TestApp};
use portcullis_server::http::handlers::docs::{VIEWER_CSP, VIEWER_INTEGRITY, VIEWER_SCRIPT};
use portcullis_server::http::security_headers::API_CSP;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.verified_login("ada@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let responses = [
        app.post("/api/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await,
        app.post("/api/v1/auth/login", json!({"email": "ada@example.com"})).await,
        app.get("/api/v1/users/me", Some(&token)).await,
        app.get("/api/v1/users/me", None).await,
        app.get("/api/v1/no-such-thing", None).await,
        app.call("PUT", "/api/v1/auth/login", None, None, &[]).await,
        app.get("/api/v1/openapi.json", None).await,
        app.get("/health/live", None).await,
        app.get("/metrics", None).await,
    ];
    for r in &responses {
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "{r:?}");
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"), "{r:?}");
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"), "{r:?}");
        assert_eq!(r.header("content-security-policy").as_deref(), Some(API_CSP), "{r:?}");
        assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"), "{r:?}");
        assert_eq!(r.header("strict-transport-security"), None, "no HSTS for an http public_url: {r:?}");
    }
    assert_eq!(responses[0].status, 200, "the login itself worked: {:?}", responses[0]);

    // The viewer has its own policy: its one pinned, integrity-checked script and nothing else.
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status, 200);
    assert_eq!(docs.header("content-security-policy").as_deref(), Some(VIEWER_CSP));
    assert_eq!(docs.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(docs.text.contains(&format!(r#"src="{VIEWER_SCRIPT}" integrity="{VIEWER_INTEGRITY}""#)), "{}", docs.text);
    assert!(VIEWER_CSP.contains(&format!("script-src {VIEWER_SCRIPT};")), "the policy allows that script only");
    assert!(!VIEWER_CSP.contains("unsafe-eval") && !VIEWER_CSP.contains("script-src 'unsafe-inline'"));
}

#[actix_web::test]
async fn an_https_deployment_sends_hsts() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.server.public_url = "https://auth.example.com".to_owned()).await;
    let r = app.get("/health/live", None).await;
    assert_eq!(r.header("strict-transport-security").as_deref(), Some("max-age=31536000"));
}

/// A browser's preflight for a cross-origin login.
async fn preflight(app: &TestApp, origin: &str) -> portcullis_e2e::Resp {
    let headers = [
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ];
    app.call("OPTIONS", "/api/v1/auth/login", None, None, &headers).await
}

#[actix_web::test]
async fn cors_is_off_unless_origins_are_configured() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = preflight(&app, "https://app.example.com").await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
    assert!(r.status < 500, "{r:?}");
    let r = app.call("GET", "/health/live", None, None, &[("Origin", "https://app.example.com")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn configured_origins_and_only_those_may_call_cross_origin() {
    let allowed = "https://app.example.com";
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.server.cors_allowed_origins = vec![allowed.to_owned()]).await;
    let r = preflight(&app, allowed).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some(allowed));
    let methods = r.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST") && methods.contains("PUT") && !methods.contains("TRACE"), "{methods}");
    assert_eq!(r.header("access-control-allow-credentials"), None, "bearer tokens only, no cookies");
    assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "preflights get the headers too");

    let r = app.call("GET", "/health/live", None, None, &[("Origin", allowed)]).await;
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some(allowed));

    let r = preflight(&app, "https://evil.example.net").await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
    assert!(r.status < 500, "{r:?}");
}

/// Sends `head`, then `body` one byte every `pace`, until the server answers or closes;
/// returns what it answered and how many body bytes went out.
async fn trickle(addr: &str, head: &str, body: &[u8], pace: Duration) -> (String, usize) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut sent = 0;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(pace), if sent < body.len() => {
                if stream.write_all(&body[sent..=sent]).await.is_err() {
                    break;
                }
                sent += 1;
            }
        }
    }
    (String::from_utf8_lossy(&answer).into_owned(), sent)
}

#[actix_web::test]
async fn a_body_sent_a_byte_a_second_is_cut_off_at_the_request_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.server.request_timeout_secs = 2).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let body = format!(r#"{{"email":"ada@example.com","password":"{PASSWORD}"}}"#);
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (answer, sent) = trickle(&addr, &head, body.as_bytes(), Duration::from_secs(1)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT") && answer.contains("application/problem+json"), "{answer}");
    assert!(sent < body.len() / 2, "the server waited for {sent} of {} bytes", body.len());
    assert_eq!(app.get("/health/live", None).await.status, 200, "the server serves on");
}

#[actix_web::test]
async fn a_head_sent_a_byte_a_second_is_cut_off_at_the_request_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.server.request_timeout_secs = 2).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let head = format!("GET /health/live HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\n\r\n", "a".repeat(64));
    let (answer, sent) = trickle(&addr, "", head.as_bytes(), Duration::from_secs(1)).await;
    assert!(sent < head.len() / 2, "the server waited for {sent} of {} bytes", head.len());
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
}
