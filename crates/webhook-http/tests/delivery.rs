//! Deliveries to the in-process receiver: what arrives, what comes back, and the bounds
//! (timeout, no redirects, bounded body).
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::time::{Duration, Instant};

use portcullis_domain::model::{TargetPolicy, WebhookUrl};
use portcullis_domain::ports::{WebhookRequest, WebhookResponse, WebhookTransport};
use portcullis_webhook_http::test_receiver::{Behaviour, Receiver};
use portcullis_webhook_http::{HttpWebhookTransport, USER_AGENT};

/// Plain HTTP to loopback allowed, as the tests need.
fn transport() -> HttpWebhookTransport {
    HttpWebhookTransport::new(TargetPolicy {
        allow_http: true,
        allowed_private: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    })
}

fn request(url: &str, timeout: Duration) -> WebhookRequest {
    WebhookRequest {
        url: WebhookUrl::parse(url).unwrap(),
        headers: vec![
            ("webhook-id", "evt_42".to_owned()),
            ("webhook-timestamp", "1700000000".to_owned()),
            ("webhook-signature", "v1,c2lnbmF0dXJl".to_owned()),
            ("content-type", "application/json".to_owned()),
        ],
        body: br#"{"id":"evt_42","type":"user.login","data":{"n":1}}"#.to_vec(),
        timeout,
    }
}

#[tokio::test]
async fn an_accepted_delivery_arrives_whole() {
    let receiver = Receiver::start().await;
    let transport = transport();
    let url = format!("{}?tenant=7", receiver.url());
    let sent = transport.send(request(&url, Duration::from_secs(5))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 204, retry_after: None });

    let got = receiver.wait_for(1, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 1);
    let got = &got[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hook?tenant=7");
    assert_eq!(got.body, request(&url, Duration::ZERO).body);
    assert_eq!(got.header("webhook-id"), Some("evt_42"));
    assert_eq!(got.header("webhook-timestamp"), Some("1700000000"));
    assert_eq!(got.header("webhook-signature"), Some("v1,c2lnbmF0dXJl"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("content-length"), Some(got.body.len().to_string().as_str()));
    assert_eq!(got.header("user-agent"), Some(USER_AGENT));
    assert_eq!(got.header("host"), Some(receiver.addr().to_string().as_str()));
    // Exactly one of each: the caller's content-type replaced the transport's.
    assert_eq!(got.headers.iter().filter(|(n, _)| n == "content-type").count(), 1);

    receiver.set_behaviour(Behaviour::Status { status: 200, retry_after: None });
    let sent = transport.send(request(&receiver.url(), Duration::from_secs(5))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 200, retry_after: None });
    assert_eq!(receiver.count(), 2, "one request per try");
}

#[tokio::test]
async fn error_statuses_come_back_with_retry_after() {
    let receiver = Receiver::start().await;
    let transport = transport();
    receiver.set_behaviour(Behaviour::Status { status: 500, retry_after: None });
    let sent = transport.send(request(&receiver.url(), Duration::from_secs(5))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 500, retry_after: None });

    receiver.set_behaviour(Behaviour::Status { status: 410, retry_after: Some("120".to_owned()) });
    let sent = transport.send(request(&receiver.url(), Duration::from_secs(5))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 410, retry_after: Some("120".to_owned()) });

    receiver.set_behaviour(Behaviour::Status {
        status: 503,
        retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
    });
    let sent = transport.send(request(&receiver.url(), Duration::from_secs(5))).await;
    assert_eq!(
        sent,
        WebhookResponse::Answered { status: 503, retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()) }
    );
    assert_eq!(receiver.count(), 3);
}

#[tokio::test]
async fn a_hanging_receiver_times_out() {
    let receiver = Receiver::start().await;
    receiver.set_behaviour(Behaviour::Hang);
    let started = Instant::now();
    let sent = transport().send(request(&receiver.url(), Duration::from_millis(400))).await;
    let took = started.elapsed();
    assert_eq!(sent, WebhookResponse::TimedOut);
    assert!(took >= Duration::from_millis(350) && took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(receiver.count(), 1, "the request was sent, only the answer never came");
}

#[tokio::test]
async fn redirects_are_answers_never_followed() {
    let target = Receiver::start().await;
    let redirecting = Receiver::start().await;
    redirecting.set_behaviour(Behaviour::Redirect(target.url()));
    let sent = transport().send(request(&redirecting.url(), Duration::from_secs(5))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 302, retry_after: None });
    assert_eq!(redirecting.count(), 1);
    assert!(target.wait_for(1, Duration::from_millis(200)).await.is_empty(), "the redirect was followed");
}

#[tokio::test]
async fn an_endless_body_is_read_only_so_far() {
    let receiver = Receiver::start().await;
    receiver.set_behaviour(Behaviour::EndlessBody);
    let started = Instant::now();
    let sent = transport().send(request(&receiver.url(), Duration::from_millis(2000))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 200, retry_after: None });
    // Well before the timeout: the read stopped at the bound, not at the deadline.
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_closed_port_fails() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let sent = transport().send(request(&format!("http://{addr}/hook"), Duration::from_secs(5))).await;
    assert_eq!(sent, WebhookResponse::Failed("connection refused".to_owned()));
}

#[tokio::test]
async fn a_receiver_that_is_not_http_fails() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    });
    let sent = transport().send(request(&format!("http://{addr}/hook"), Duration::from_secs(5))).await;
    let WebhookResponse::Failed(message) = sent else { panic!("expected a failure, got {sent:?}") };
    assert!(message.starts_with("http: "), "{message}");
    assert!(!message.contains("c2lnbmF0dXJl"), "{message}");
    server.await.unwrap();
}

#[tokio::test]
async fn a_slow_body_after_the_status_is_still_an_answer() {
    // The head arrives at once, the chunked body never does: the status stands, and the
    // drain ends at the try's deadline.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n").await;
        // Hold the connection until the client hangs up.
        let _ = stream.read(&mut buf).await;
    });
    let started = Instant::now();
    let sent = transport().send(request(&format!("http://{addr}/hook"), Duration::from_millis(300))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 202, retry_after: None });
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    // The client dropped the connection: the server's read returns.
    tokio::time::timeout(Duration::from_secs(2), server).await.unwrap().unwrap();
}
