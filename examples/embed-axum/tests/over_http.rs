//! The axum embedding driven over real HTTP: sign up, confirm with the mailed code, sign in,
//! read the login history, report a sign-in from another app, on the project's SQLite store,
//! hasher and tokens.

use std::net::SocketAddr;

use example_embed_axum::{Auth, build, serve};
use portcullis_domain::Policy;
use portcullis_testing::fakes::FakeMailTransport;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const PASSWORD: &str = "correct horse battery staple";

/// One HTTP/1.1 request on a fresh connection; the status and the JSON body.
async fn call(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: {FIREFOX}\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("receive");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let (_, payload) = response.split_once("\r\n\r\n").expect("a head and a body");
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

async fn start() -> (SocketAddr, Auth, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let auth = build(&dir.path().join("auth.db"), dir.path(), Policy::default()).await.expect("service builds");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(serve(listener, auth.clone()));
    (addr, auth, dir)
}

#[tokio::test]
async fn sign_up_confirm_sign_in_and_read_the_history_over_http() {
    let (addr, auth, _dir) = start().await;
    let laura = json!({"name": "Laura", "email": "laura@example.com", "password": PASSWORD});
    let (status, _) = call(addr, "POST", "/register", None, Some(laura)).await;
    assert_eq!(status, 201);

    // The code travels by mail: deliver the outbox to a capturing transport and read it.
    let mailer = FakeMailTransport::new();
    auth.deliver_mail(&mailer, 10).await.expect("outbox drains");
    let code = mailer.last_code_to("laura@example.com").expect("a code in the mail");

    let unverified = json!({"email": "laura@example.com", "password": PASSWORD});
    let (status, body) = call(addr, "POST", "/login", None, Some(unverified.clone())).await;
    assert_eq!((status, &body["error"]), (403, &json!("email_not_verified")));
    let (status, _) =
        call(addr, "POST", "/verify", None, Some(json!({"email": "laura@example.com", "code": code}))).await;
    assert_eq!(status, 200);
    let (status, _) =
        call(addr, "POST", "/verify", None, Some(json!({"email": "laura@example.com", "code": code}))).await;
    assert_eq!(status, 400, "a code works once");

    let wrong = json!({"email": "laura@example.com", "password": "not the password at all"});
    assert_eq!(call(addr, "POST", "/login", None, Some(wrong)).await.0, 401);
    let (status, tokens) = call(addr, "POST", "/login", None, Some(unverified)).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().expect("an access token").to_owned();

    let (status, history) = call(addr, "GET", "/me/logins", Some(&token), None).await;
    assert_eq!(status, 200, "{history}");
    let actions: Vec<&str> =
        history["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    // Newest first: the sign-in, the wrong password, the attempt before verification.
    assert_eq!(actions, ["auth.login.success", "auth.login.failure", "auth.login.failure"], "{history}");
    assert_eq!(history["entries"][0]["browser"], "Firefox", "the real user-agent parser ran: {history}");
    assert_eq!(history["entries"][0]["ip"], "127.0.0.1");

    let (status, _) = call(addr, "POST", "/me/sign-ins", Some(&token), Some(json!({"event": "login"}))).await;
    assert_eq!(status, 201);
    let (_, history) = call(addr, "GET", "/me/logins", Some(&token), None).await;
    assert_eq!(history["total"], 4, "the reported sign-in is in the history: {history}");
}

#[tokio::test]
async fn the_history_needs_a_valid_token() {
    let (addr, _, _dir) = start().await;
    assert_eq!(call(addr, "GET", "/me/logins", None, None).await.0, 401);
    assert_eq!(call(addr, "GET", "/me/logins", Some("v4.local.forged"), None).await.0, 401);
}
