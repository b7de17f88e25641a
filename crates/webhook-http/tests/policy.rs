//! The target policy, enforced by the transport after DNS resolution and at every try.
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::time::Duration;

use portcullis_domain::model::{TargetPolicy, TargetRefusal, WebhookUrl};
use portcullis_domain::ports::{WebhookRequest, WebhookResponse, WebhookTransport};
use portcullis_webhook_http::HttpWebhookTransport;
use portcullis_webhook_http::test_receiver::Receiver;

fn request(url: &str) -> WebhookRequest {
    WebhookRequest {
        url: WebhookUrl::parse(url).unwrap(),
        headers: vec![("webhook-id", "evt_1".to_owned())],
        body: b"{}".to_vec(),
        timeout: Duration::from_secs(5),
    }
}

fn url(text: &str) -> WebhookUrl {
    WebhookUrl::parse(text).unwrap()
}

/// `localhost` with the receiver's port.
fn localhost(receiver: &Receiver) -> String {
    format!("http://localhost:{}/hook", receiver.addr().port())
}

/// Loopback allowed, both families (`localhost` may also resolve to `::1`).
fn loopback_allowed() -> TargetPolicy {
    TargetPolicy { allow_http: true, allowed_private: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()] }
}

#[tokio::test]
async fn http_needs_allow_http() {
    let receiver = Receiver::start().await;
    let transport = HttpWebhookTransport::new(TargetPolicy::default());
    let sent = transport.send(request(&receiver.url())).await;
    assert_eq!(sent, WebhookResponse::Refused(TargetRefusal::InsecureScheme));
    assert_eq!(transport.vet(&url("http://example.com/")).await, Err(TargetRefusal::InsecureScheme));
    // Even a private range that would let the address through does not allow the scheme.
    let ranged = HttpWebhookTransport::new(TargetPolicy { allow_http: false, ..loopback_allowed() });
    let sent = ranged.send(request(&receiver.url())).await;
    assert_eq!(sent, WebhookResponse::Refused(TargetRefusal::InsecureScheme));
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn a_loopback_literal_needs_an_allowed_range() {
    let receiver = Receiver::start().await;
    let transport = HttpWebhookTransport::new(TargetPolicy { allow_http: true, allowed_private: Vec::new() });
    let sent = transport.send(request(&receiver.url())).await;
    assert_eq!(sent, WebhookResponse::Refused(TargetRefusal::PrivateAddress("127.0.0.1".parse().unwrap())));
    // A range that does not cover it does not help.
    let other = HttpWebhookTransport::new(TargetPolicy {
        allow_http: true,
        allowed_private: vec!["10.0.0.0/8".parse().unwrap()],
    });
    assert!(matches!(other.send(request(&receiver.url())).await, WebhookResponse::Refused(_)));
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_after_dns() {
    let receiver = Receiver::start().await;
    let transport = HttpWebhookTransport::new(TargetPolicy { allow_http: true, allowed_private: Vec::new() });
    let target = url(&localhost(&receiver));
    // The URL alone passes: only the resolved addresses are private.
    assert_eq!(transport.policy().check_url(&target), Ok(()));
    let sent = transport.send(request(&localhost(&receiver))).await;
    let WebhookResponse::Refused(TargetRefusal::PrivateAddress(ip)) = sent else {
        panic!("expected a private address refusal, got {sent:?}")
    };
    assert!(ip.is_loopback(), "{ip}");
    assert!(matches!(transport.vet(&target).await, Err(TargetRefusal::PrivateAddress(ip)) if ip.is_loopback()));
    assert!(receiver.wait_for(1, Duration::from_millis(100)).await.is_empty());
}

#[tokio::test]
async fn an_allowed_range_lets_a_name_through() {
    let receiver = Receiver::start().await;
    let transport = HttpWebhookTransport::new(loopback_allowed());
    let sent = transport.send(request(&localhost(&receiver))).await;
    assert_eq!(sent, WebhookResponse::Answered { status: 204, retry_after: None });
    let got = receiver.wait_for(1, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 1);
    let host = format!("localhost:{}", receiver.addr().port());
    assert_eq!(got[0].header("host"), Some(host.as_str()));
}

#[tokio::test]
async fn vet_returns_the_checked_addresses() {
    let transport = HttpWebhookTransport::new(loopback_allowed());
    let addresses = transport.vet(&url("http://localhost/")).await.unwrap();
    assert!(!addresses.is_empty());
    assert!(addresses.iter().all(|ip| ip.is_loopback()), "{addresses:?}");
    let literal = transport.vet(&url("http://127.0.0.2:8080/x")).await.unwrap();
    assert_eq!(literal, ["127.0.0.2".parse::<std::net::IpAddr>().unwrap()]);
}
