//! Webhooks (contract §10): administration, the fan-out of audited events, signed
//! deliveries (checked with the Standard Webhooks reference implementation), the retry
//! schedule on the kit's clock, 410s, test events, secret rotation and concurrent workers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use portcullis_domain::model::{
    DeliveryStatus, MAX_ATTEMPTS, RETRY_SCHEDULE, ROTATION_OVERLAP, Role, Roles, TEST_EVENT, TargetPolicy, Timestamp,
    WebhookDelivery, WebhookEndpoint, WebhookId, WebhookSecret,
};
use portcullis_domain::ports::{Clock, WebhookRequest, WebhookResponse};
use portcullis_domain::{Actor, AdminError, LoginError, NewWebhook, Policy, WebhookPatch, WebhookRound};
use portcullis_testing::fakes::{FakeWebhookTransport, T0};
use portcullis_testing::fixtures::{self, PASSWORD};
use portcullis_testing::{TestHandles, sign_in, test_service};
use secrecy::ExposeSecret;
use serde_json::Value;
use standardwebhooks::Webhook;

use crate::support::{Service, audits, ctx, login_request, seed};

const URL: &str = "https://hooks.example.com/portcullis";

/// Whoever runs the command line: holds every permission.
static OPERATOR: Actor = Actor::Operator;

fn new_webhook(url: &str, events: &[&str]) -> NewWebhook {
    NewWebhook { url: url.to_owned(), events: events.iter().map(|e| (*e).to_owned()).collect(), description: None }
}

/// Subscribes `url` to `events` as the operator; the endpoint and its `whsec_` secret.
async fn create(
    svc: &Service,
    transport: &FakeWebhookTransport,
    url: &str,
    events: &[&str],
) -> (WebhookEndpoint, String) {
    let (endpoint, secret) = svc
        .admin_create_webhook(&OPERATOR, transport, new_webhook(url, events), &ctx())
        .await
        .expect("a valid webhook");
    (endpoint, secret.encoded().expose_secret().to_owned())
}

async fn set_enabled(svc: &Service, transport: &FakeWebhookTransport, id: WebhookId, enabled: bool) -> WebhookEndpoint {
    let patch = WebhookPatch { enabled: Some(enabled), ..WebhookPatch::default() };
    svc.admin_update_webhook(&OPERATOR, transport, id, patch, &ctx()).await.expect("update")
}

/// Seeds a verified user of `address` (at the clock's time) and signs them in.
async fn login(svc: &Service, h: &TestHandles, address: &str) {
    if h.store.user_with_email(address).is_none() {
        h.seed_verified(address).await;
    }
    sign_in(svc, address).await;
}

/// Every delivery of `id`, oldest first.
fn deliveries(h: &TestHandles, id: WebhookId) -> Vec<WebhookDelivery> {
    h.store.webhook_deliveries().into_iter().filter(|d| d.webhook_id == id).collect()
}

fn only_delivery(h: &TestHandles, id: WebhookId) -> WebhookDelivery {
    let all = deliveries(h, id);
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().expect("one delivery")
}

fn header<'a>(request: &'a WebhookRequest, name: &str) -> &'a str {
    request
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn body(request: &WebhookRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

fn header_map(request: &WebhookRequest) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in &request.headers {
        map.insert(*name, value.parse().expect("a header value"));
    }
    map
}

/// Verifies `request` as a receiver holding `secret` would, with the reference
/// implementation (which also wants the timestamp within five minutes of the real time).
fn verify(request: &WebhookRequest, secret: &str) -> Result<(), standardwebhooks::WebhookError> {
    Webhook::new(secret).expect("a whsec_ secret").verify(&request.body, &header_map(request))
}

/// The `v1,` signature the reference computes for `request` with `secret` (any timestamp).
fn reference_signature(request: &WebhookRequest, secret: &str) -> String {
    let timestamp: i64 = header(request, "webhook-timestamp").parse().expect("seconds");
    let webhook = Webhook::new(secret).expect("a whsec_ secret");
    webhook.sign(header(request, "webhook-id"), timestamp, &request.body).expect("a signature")
}

fn signatures(request: &WebhookRequest) -> Vec<&str> {
    header(request, "webhook-signature").split(' ').collect()
}

/// The real current time: the reference verifier checks the timestamp against it.
fn real_now() -> Timestamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    Timestamp::from_unix_millis(i64::try_from(since.as_millis()).expect("in range"))
}

fn tries(round: WebhookRound) -> u32 {
    round.delivered + round.retried + round.failed
}

fn answered(status: u16) -> WebhookResponse {
    WebhookResponse::Answered { status, retry_after: None }
}

async fn round(svc: &Service, transport: &FakeWebhookTransport) -> WebhookRound {
    svc.deliver_webhooks(transport, 50).await.expect("a delivery round")
}

/// Fails every try of the pending deliveries (500s) through the whole schedule, from now.
async fn fail_every_try(svc: &Service, h: &TestHandles, transport: &FakeWebhookTransport) {
    transport.script(std::iter::repeat_n(answered(500), MAX_ATTEMPTS as usize));
    assert_eq!(round(svc, transport).await.retried, 1);
    for step in RETRY_SCHEDULE {
        h.clock.advance(step);
        assert_eq!(tries(round(svc, transport).await), 1);
    }
}

/// Tries to subscribe `input` as the operator.
async fn attempt(
    svc: &Service,
    transport: &FakeWebhookTransport,
    input: NewWebhook,
) -> Result<(WebhookEndpoint, WebhookSecret), AdminError> {
    svc.admin_create_webhook(&OPERATOR, transport, input, &ctx()).await
}

fn field_names(result: Result<impl std::fmt::Debug, AdminError>) -> Vec<String> {
    match result {
        Err(AdminError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("not invalid: {other:?}"),
    }
}

// ---- administration ----------------------------------------------------------------------

#[tokio::test]
async fn managing_webhooks_needs_the_webhooks_manage_permission() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.*"]).await;
    let ana = h.seed_verified("ana@example.com").await;
    let plain = Actor::User { id: ana.id, roles: ana.roles.clone() };
    let forbidden = |r: Result<(), AdminError>| matches!(r, Err(AdminError::Forbidden));
    let audit_len = h.store.audit_entries().len();

    let created = svc.admin_create_webhook(&plain, &transport, new_webhook(URL, &["auth.*"]), &ctx()).await;
    assert!(forbidden(created.map(|_| ())));
    let bad = svc.admin_create_webhook(&plain, &transport, new_webhook("nope", &[]), &ctx()).await;
    assert!(forbidden(bad.map(|_| ())), "before validation");
    assert!(forbidden(svc.admin_webhooks(&plain).await.map(|_| ())));
    assert!(forbidden(svc.admin_webhook(&plain, endpoint.id).await.map(|_| ())));
    let patch = WebhookPatch { enabled: Some(false), ..WebhookPatch::default() };
    assert!(forbidden(svc.admin_update_webhook(&plain, &transport, endpoint.id, patch, &ctx()).await.map(|_| ())));
    assert!(forbidden(svc.admin_rotate_webhook_secret(&plain, endpoint.id, &ctx()).await.map(|_| ())));
    assert!(forbidden(svc.admin_webhook_deliveries(&plain, endpoint.id, None, 10, 0).await.map(|_| ())));
    let delivery = portcullis_domain::model::DeliveryId(1);
    assert!(forbidden(svc.admin_retry_delivery(&plain, endpoint.id, delivery, &ctx()).await.map(|_| ())));
    assert!(forbidden(svc.admin_test_webhook(&plain, endpoint.id, &ctx()).await.map(|_| ())));
    assert!(forbidden(svc.admin_delete_webhook(&plain, endpoint.id, &ctx()).await.map(|_| ())));
    assert_eq!(svc.admin_webhooks(&OPERATOR).await.expect("list").len(), 1);
    assert_eq!(h.store.audit_entries().len(), audit_len, "nothing audited");
    assert!(h.store.webhook_deliveries().is_empty());

    let mut admin = fixtures::user("root@example.com", T0);
    admin.roles = Roles::new([Role::Admin]);
    let admin = seed(&h, admin).await;
    let admin_actor = Actor::User { id: admin.id, roles: admin.roles.clone() };
    let (second, _) = svc
        .admin_create_webhook(&admin_actor, &transport, new_webhook(URL, &["user.*"]), &ctx())
        .await
        .expect("an administrator may");
    let created = audits(&h, "admin.webhook.created");
    assert_eq!(created.last().map(|e| e.user_id), Some(Some(admin.id)));
    assert_eq!(created.last().map(|e| e.metadata["webhook_id"].clone()), Some(second.id.to_string().into()));
    assert_eq!(created.first().map(|e| e.metadata["actor_id"].clone()), Some("cli".into()));
}

#[tokio::test]
async fn registration_checks_the_url_the_events_and_the_description() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    transport.resolve("internal.example.com", &[fixtures::ip("10.0.0.5")]);
    transport.resolve("mixed.example.com", &[fixtures::ip("8.8.8.8"), fixtures::ip("192.168.0.7")]);
    transport.resolve("nowhere.example.com", &[]);
    let create = |url: &str, events: &[&str], description: Option<String>| {
        attempt(&svc, &transport, NewWebhook { description, ..new_webhook(url, events) })
    };
    let url_error = |result: Result<(WebhookEndpoint, WebhookSecret), AdminError>| match result {
        Err(AdminError::Invalid(errors)) if errors.len() == 1 && errors[0].field == "url" => errors[0].message.clone(),
        other => panic!("not a url error: {other:?}"),
    };

    for url in [
        "not a url",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https://hooks.example.com/#x",
    ] {
        url_error(create(url, &["auth.*"], None).await);
    }
    let http = url_error(create("http://hooks.example.com/in", &["auth.*"], None).await);
    assert!(http.contains("https"), "{http}");
    let private = url_error(create("https://internal.example.com/in", &["auth.*"], None).await);
    assert!(private.contains("10.0.0.5"), "{private}");
    let mixed = url_error(create("https://mixed.example.com/in", &["auth.*"], None).await);
    assert!(mixed.contains("192.168.0.7"), "every address is checked: {mixed}");
    url_error(create("https://nowhere.example.com/in", &["auth.*"], None).await);
    for literal in ["https://10.0.0.5/in", "https://127.0.0.1/in", "https://[::1]/in", "https://169.254.169.254/"] {
        url_error(create(literal, &["auth.*"], None).await);
    }

    assert_eq!(field_names(create(URL, &["auth.login.sucess"], None).await), ["events.0"]);
    assert_eq!(field_names(create(URL, &["auth.*", "user*", "nope.x"], None).await), ["events.1", "events.2"]);
    assert_eq!(field_names(create(URL, &[], None).await), ["events"]);
    let many: Vec<String> = (0..51).map(|i| format!("e{i}.*")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(field_names(create(URL, &many, None).await), ["events"]);
    assert_eq!(field_names(create(URL, &["auth.*"], Some("x".repeat(501))).await), ["description"]);
    assert_eq!(field_names(create(URL, &["auth.*"], Some("bell\u{7}".to_owned())).await), ["description"]);
    assert_eq!(field_names(create("http://x", &[], Some("x".repeat(501))).await), ["url", "events", "description"]);

    assert!(svc.admin_webhooks(&OPERATOR).await.expect("list").is_empty(), "nothing stored");
    assert!(audits(&h, "admin.webhook.created").is_empty());

    let (ok, _) = create(URL, &["auth.*"], Some(format!("  {}  ", "é".repeat(500)))).await.expect("500 characters fit");
    assert_eq!(ok.description.chars().count(), 500, "trimmed");
}

#[tokio::test]
async fn the_target_policy_admits_http_and_private_ranges_when_configured() {
    let targets = TargetPolicy { allow_http: true, allowed_private: vec!["10.0.0.0/8".parse().expect("a range")] };
    let policy = Policy { webhook_targets: targets.clone(), ..Policy::default() };
    let (svc, _h) = test_service(policy);
    let transport = FakeWebhookTransport::accepting().with_policy(targets);
    transport.resolve("internal.example.com", &[fixtures::ip("10.0.0.5")]);
    transport.resolve("loopback.example.com", &[fixtures::ip("127.0.0.1")]);
    let (endpoint, _) = create(&svc, &transport, "http://internal.example.com:8080/in", &["auth.*"]).await;
    assert_eq!(endpoint.url.as_str(), "http://internal.example.com:8080/in");
    create(&svc, &transport, "https://10.1.2.3/in", &["auth.*"]).await;
    let loopback = svc
        .admin_create_webhook(&OPERATOR, &transport, new_webhook("https://loopback.example.com/", &["*"]), &ctx())
        .await;
    assert_eq!(field_names(loopback), ["url"]);
}

#[tokio::test]
async fn registration_returns_a_whsec_secret_once_and_stores_it_sealed() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let input = NewWebhook {
        description: Some("  Ops dashboard  ".to_owned()),
        ..new_webhook(&format!("  {URL}?tenant=7  "), &["auth.login.failure", "user.*", "auth.login.failure"])
    };
    let (endpoint, secret) = svc.admin_create_webhook(&OPERATOR, &transport, input, &ctx()).await.expect("create");
    let shown = secret.encoded();
    let encoded = shown.expose_secret().strip_prefix("whsec_").expect("the whsec_ prefix");
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded).expect("standard base64");
    assert_eq!(raw.len(), 32);
    assert_eq!(raw, secret.expose_bytes());

    assert_eq!(endpoint.url.as_str(), format!("{URL}?tenant=7"));
    let events: Vec<&str> = endpoint.events.iter().map(|p| p.as_str()).collect();
    assert_eq!(events, ["auth.login.failure", "user.*"], "duplicates dropped");
    assert_eq!(endpoint.description, "Ops dashboard");
    assert!(endpoint.enabled);
    assert_eq!((endpoint.disabled_reason.as_ref(), endpoint.previous_secret.as_ref()), (None, None));
    assert_eq!((endpoint.created_at, endpoint.updated_at), (T0, T0));

    let stored = svc.admin_webhook(&OPERATOR, endpoint.id).await.expect("stored");
    assert_eq!(stored, endpoint);
    assert_ne!(stored.secret.0, raw, "sealed, not the raw bytes");
    let (second, other_secret) = create(&svc, &transport, URL, &["auth.*"]).await;
    assert_ne!(&other_secret, shown.expose_secret(), "a fresh secret per endpoint");
    assert_ne!(second.secret, stored.secret);

    let entry = audits(&h, "admin.webhook.created").into_iter().next().expect("audited");
    assert_eq!(entry.metadata["webhook_id"], endpoint.id.to_string());
    // The path or query may carry the receiver's own token, and audit entries go out as events.
    assert_eq!(entry.metadata["url"], "https://hooks.example.com/…");
    assert_eq!(entry.metadata["events"], serde_json::json!(["auth.login.failure", "user.*"]));
    let logged = serde_json::to_string(&entry.metadata).expect("JSON");
    assert!(!logged.contains(encoded), "the secret is never audited");
}

// ---- the fan-out -------------------------------------------------------------------------

#[tokio::test]
async fn a_login_queues_one_delivery_for_each_subscribed_enabled_endpoint() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (auth, _) = create(&svc, &transport, "https://auth.example.com/", &["auth.*"]).await;
    let (exact, _) = create(&svc, &transport, "https://exact.example.com/", &["auth.login.success", "auth.*"]).await;
    let (user, _) = create(&svc, &transport, "https://user.example.com/", &["user.*"]).await;
    let (off, _) = create(&svc, &transport, "https://off.example.com/", &["auth.*"]).await;
    set_enabled(&svc, &transport, off.id, false).await;
    h.clock.advance(Duration::from_secs(7));

    login(&svc, &h, "laura@example.com").await;
    let entry = audits(&h, "auth.login.success").pop().expect("the login's entry");
    for endpoint in [&auth, &exact] {
        let d = only_delivery(&h, endpoint.id);
        assert_eq!(
            (d.event_type.as_str(), d.audit_id, d.status),
            ("auth.login.success", Some(entry.id), DeliveryStatus::Pending)
        );
        assert_eq!((d.attempts, d.next_attempt_at, d.created_at), (0, Some(entry.created_at), entry.created_at));
        assert_eq!(d.event_id(), format!("evt_{}", entry.id));
    }
    assert!(deliveries(&h, user.id).is_empty());
    assert!(deliveries(&h, off.id).is_empty());

    let page = svc.admin_webhook_deliveries(&OPERATOR, auth.id, None, 10, 0).await.expect("deliveries");
    assert_eq!((page.total_count, page.items[0].event_type.as_str()), (1, "auth.login.success"));
}

#[tokio::test]
async fn a_failed_commit_queues_no_delivery() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, _) = create(&svc, &transport, URL, &["*"]).await;
    h.seed_verified("laura@example.com").await;
    let before = deliveries(&h, endpoint.id).len();

    h.store.set_commits_unavailable(true);
    let refused = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    assert!(matches!(refused, Err(LoginError::Infra(_))), "{refused:?}");
    let wrong = svc.login(login_request("laura@example.com", "not the password at all", false), &ctx()).await;
    assert!(wrong.is_err());
    h.store.set_commits_unavailable(false);

    assert_eq!(deliveries(&h, endpoint.id).len(), before, "no event of an uncommitted change");
    assert!(h.store.webhook_deliveries().iter().all(|d| !d.event_type.starts_with("auth.")));
    assert_eq!(round(&svc, &transport).await.delivered as usize, before);
    assert!(transport.sent().iter().all(|r| !body(r)["type"].as_str().unwrap_or_default().starts_with("auth.")));
}

#[tokio::test]
async fn changing_the_events_changes_what_is_queued() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.login.failure"]).await;
    login(&svc, &h, "laura@example.com").await;
    assert!(deliveries(&h, endpoint.id).is_empty());

    let patch = WebhookPatch { events: Some(vec!["auth.login.success".to_owned()]), ..WebhookPatch::default() };
    h.clock.advance(Duration::from_secs(60));
    let updated = svc.admin_update_webhook(&OPERATOR, &transport, endpoint.id, patch, &ctx()).await.expect("update");
    assert_eq!(updated.events.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["auth.login.success"]);
    assert_eq!((updated.updated_at, updated.created_at), (T0.plus(Duration::from_secs(60)), T0));
    assert_eq!((&updated.url, &updated.secret), (&endpoint.url, &endpoint.secret), "the rest stays");
    login(&svc, &h, "laura@example.com").await;
    assert_eq!(only_delivery(&h, endpoint.id).event_type, "auth.login.success");

    let bad = WebhookPatch { events: Some(vec!["nope".to_owned()]), ..WebhookPatch::default() };
    assert_eq!(
        field_names(svc.admin_update_webhook(&OPERATOR, &transport, endpoint.id, bad, &ctx()).await),
        ["events.0"]
    );
    let private = WebhookPatch { url: Some("https://127.0.0.1/".to_owned()), ..WebhookPatch::default() };
    assert_eq!(
        field_names(svc.admin_update_webhook(&OPERATOR, &transport, endpoint.id, private, &ctx()).await),
        ["url"]
    );
    let none = WebhookPatch { events: Some(Vec::new()), ..WebhookPatch::default() };
    assert_eq!(
        field_names(svc.admin_update_webhook(&OPERATOR, &transport, endpoint.id, none, &ctx()).await),
        ["events"]
    );
    assert_eq!(svc.admin_webhook(&OPERATOR, endpoint.id).await.expect("read"), updated, "unchanged");
    let missing =
        svc.admin_update_webhook(&OPERATOR, &transport, WebhookId::new_v7(), WebhookPatch::default(), &ctx()).await;
    assert!(matches!(missing, Err(AdminError::NoSuchWebhook)));

    let entry = audits(&h, "admin.webhook.updated").into_iter().next().expect("audited");
    assert_eq!(entry.metadata["changed"], serde_json::json!(["events"]));
}

// ---- delivery ------------------------------------------------------------------------------

#[tokio::test]
async fn a_delivery_is_signed_as_the_reference_implementation_verifies() {
    let (svc, h) = test_service(Policy::default());
    let now = real_now();
    h.clock.set(now);
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, secret) = create(&svc, &transport, URL, &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;
    let entry = audits(&h, "auth.login.success").pop().expect("the login's entry");

    assert_eq!(round(&svc, &transport).await, WebhookRound { delivered: 1, ..WebhookRound::default() });
    let sent = transport.sent();
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.url, endpoint.url);
    assert_eq!(request.timeout, Policy::default().webhook_timeout);
    let payload = body(request);
    assert_eq!(header(request, "webhook-id"), format!("evt_{}", entry.id));
    assert_eq!(payload["id"], header(request, "webhook-id"));
    assert_eq!(payload["type"], "auth.login.success");
    assert_eq!(payload["timestamp"], entry.created_at.to_rfc3339());
    assert_eq!(payload["data"]["audit_id"], entry.id);
    assert_eq!(payload["data"]["user_id"], entry.user_id.expect("about laura").to_string());
    assert_eq!(payload["data"]["ip_address"], fixtures::LONDON_IP);
    assert_eq!(header(request, "webhook-timestamp"), (now.unix_millis() / 1000).to_string());
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(signatures(request).len(), 1);
    verify(request, &secret).expect("the reference verifier accepts the delivery");

    let mut tampered = request.clone();
    tampered.body = request.body.iter().copied().map(|b| if b == b'1' { b'2' } else { b }).collect();
    assert_ne!(tampered.body, request.body);
    assert!(verify(&tampered, &secret).is_err(), "a changed body fails");
    let (_, other_secret) = create(&svc, &transport, "https://other.example.com/", &["user.*"]).await;
    assert!(verify(request, &other_secret).is_err(), "another endpoint's secret fails");

    let d = only_delivery(&h, endpoint.id);
    assert_eq!(
        (d.status, d.attempts, d.last_status_code, d.delivered_at),
        (DeliveryStatus::Delivered, 1, Some(204), Some(now))
    );
    assert_eq!(round(&svc, &transport).await, WebhookRound::default(), "delivered once");
    assert_eq!(transport.sent().len(), 1);
}

#[tokio::test]
async fn failed_tries_follow_the_retry_schedule_then_give_up() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    transport.script(std::iter::repeat_n(answered(500), MAX_ATTEMPTS as usize));
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;

    assert_eq!(round(&svc, &transport).await, WebhookRound { retried: 1, ..WebhookRound::default() });
    for (index, step) in RETRY_SCHEDULE.into_iter().enumerate() {
        let due = h.clock.now().plus(step);
        assert_eq!(only_delivery(&h, endpoint.id).next_attempt_at, Some(due), "after try {}", index + 1);
        h.clock.advance(step - Duration::from_millis(1));
        assert_eq!(round(&svc, &transport).await, WebhookRound::default(), "before step {index}");
        h.clock.advance(Duration::from_millis(1));
        let result = round(&svc, &transport).await;
        assert_eq!(tries(result), 1, "at step {index}");
        let last = index + 1 == RETRY_SCHEDULE.len();
        assert_eq!((result.retried, result.failed), if last { (0, 1) } else { (1, 0) });
    }
    assert_eq!(transport.sent().len(), MAX_ATTEMPTS as usize);
    let d = only_delivery(&h, endpoint.id);
    assert_eq!((d.status, d.attempts, d.last_status_code), (DeliveryStatus::Failed, MAX_ATTEMPTS, Some(500)));
    assert_eq!((d.next_attempt_at, d.delivered_at), (None, None));
    assert!(d.last_error.is_some());
    let total: Duration = RETRY_SCHEDULE.iter().sum();
    assert_eq!(h.clock.now(), T0.plus(total), "about 28 hours in all");

    h.clock.advance(Duration::from_secs(10 * 86_400));
    assert_eq!(round(&svc, &transport).await, WebhookRound::default(), "never tried again");
    assert!(endpoint_of(&svc, endpoint.id).await.enabled, "failures do not turn the endpoint off");
    let failed = svc.admin_webhook_deliveries(&OPERATOR, endpoint.id, Some(DeliveryStatus::Failed), 10, 0);
    assert_eq!(failed.await.expect("deliveries").total_count, 1, "kept");
    let backlog = svc.webhook_backlog().await.expect("backlog");
    assert_eq!((backlog.pending, backlog.oldest_pending_since, backlog.failed), (0, None, 1));

    // Every try carried the same event id and the same body.
    let sent = transport.sent();
    assert!(sent.iter().all(|r| header(r, "webhook-id") == header(&sent[0], "webhook-id") && r.body == sent[0].body));
}

async fn endpoint_of(svc: &Service, id: WebhookId) -> WebhookEndpoint {
    svc.admin_webhook(&OPERATOR, id).await.expect("the endpoint")
}

#[tokio::test]
async fn a_longer_retry_after_is_honoured() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    transport.script([WebhookResponse::Answered { status: 500, retry_after: Some("3600".to_owned()) }]);
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;

    assert_eq!(round(&svc, &transport).await.retried, 1);
    assert_eq!(only_delivery(&h, endpoint.id).next_attempt_at, Some(T0.plus(Duration::from_secs(3600))));
    h.clock.advance(Duration::from_secs(5));
    assert_eq!(round(&svc, &transport).await, WebhookRound::default(), "not at the schedule's 5 s");
    h.clock.advance(Duration::from_secs(3600 - 5));
    assert_eq!(round(&svc, &transport).await, WebhookRound { delivered: 1, ..WebhookRound::default() });
    let d = only_delivery(&h, endpoint.id);
    assert_eq!((d.status, d.attempts, d.last_status_code), (DeliveryStatus::Delivered, 2, Some(204)));
}

#[tokio::test]
async fn timeouts_and_refusals_are_retried() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    transport.script([WebhookResponse::TimedOut, WebhookResponse::Failed("connection refused".to_owned())]);
    let (endpoint, _) = create(&svc, &transport, "https://moving.example.com/in", &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;

    assert_eq!(round(&svc, &transport).await.retried, 1);
    assert_eq!(only_delivery(&h, endpoint.id).last_error.as_deref(), Some("timed out"));
    h.clock.advance(RETRY_SCHEDULE[0]);
    assert_eq!(round(&svc, &transport).await.retried, 1);
    assert_eq!(only_delivery(&h, endpoint.id).last_error.as_deref(), Some("connection refused"));

    // The host now resolves to a private address: refused at the try, not sent, retried.
    transport.resolve("moving.example.com", &[fixtures::ip("10.0.0.5")]);
    h.clock.advance(RETRY_SCHEDULE[1]);
    assert_eq!(round(&svc, &transport).await.retried, 1);
    assert_eq!(transport.sent().len(), 2, "a refused try sends nothing");
    let d = only_delivery(&h, endpoint.id);
    assert_eq!((d.attempts, d.last_status_code), (3, None));
    assert!(d.last_error.as_deref().is_some_and(|e| e.contains("10.0.0.5")), "{d:?}");
}

#[tokio::test]
async fn a_410_fails_the_delivery_and_turns_the_endpoint_off() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    transport.script([answered(410)]);
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.*"]).await;
    let (other, _) = create(&svc, &transport, "https://other.example.com/", &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;

    let result = round(&svc, &transport).await;
    assert_eq!((result.gone, result.failed + result.delivered), (1, 2), "{result:?}");
    let gone_url = transport.sent()[0].url.clone();
    let (gone, alive) = if gone_url == endpoint.url { (endpoint, other) } else { (other, endpoint) };
    let d = only_delivery(&h, gone.id);
    assert_eq!(
        (d.status, d.attempts, d.last_status_code, d.next_attempt_at),
        (DeliveryStatus::Failed, 1, Some(410), None)
    );
    let off = endpoint_of(&svc, gone.id).await;
    assert_eq!((off.enabled, off.disabled_reason.as_deref()), (false, Some("gone")));
    assert!(endpoint_of(&svc, alive.id).await.enabled);

    h.clock.advance(Duration::from_secs(60));
    login(&svc, &h, "laura@example.com").await;
    assert_eq!(deliveries(&h, gone.id).len(), 1, "nothing queued for a gone endpoint");
    assert_eq!(deliveries(&h, alive.id).len(), 2);
    h.clock.advance(Duration::from_secs(86_400));
    assert_eq!(round(&svc, &transport).await, WebhookRound { delivered: 1, ..WebhookRound::default() });

    let on = set_enabled(&svc, &transport, gone.id, true).await;
    assert_eq!((on.enabled, on.disabled_reason), (true, None), "turning it on clears the reason");
    login(&svc, &h, "laura@example.com").await;
    assert_eq!(deliveries(&h, gone.id).len(), 2);
}

#[tokio::test]
async fn an_admin_retry_sends_a_failed_delivery_again_with_the_same_id() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;
    fail_every_try(&svc, &h, &transport).await;
    let failed = only_delivery(&h, endpoint.id);
    assert_eq!(failed.status, DeliveryStatus::Failed);

    h.clock.advance(Duration::from_secs(3 * 86_400));
    let retried = svc.admin_retry_delivery(&OPERATOR, endpoint.id, failed.id, &ctx()).await.expect("retry");
    let now = h.clock.now();
    assert_eq!((retried.id, retried.status, retried.next_attempt_at), (failed.id, DeliveryStatus::Pending, Some(now)));
    assert_eq!(round(&svc, &transport).await, WebhookRound { delivered: 1, ..WebhookRound::default() });
    let sent = transport.sent();
    assert_eq!(sent.len(), MAX_ATTEMPTS as usize + 1);
    assert_eq!(header(&sent[0], "webhook-id"), header(sent.last().expect("a send"), "webhook-id"));
    assert_eq!(sent[0].body, sent.last().expect("a send").body, "the same event");
    assert_ne!(header(&sent[0], "webhook-timestamp"), header(sent.last().expect("a send"), "webhook-timestamp"));
    let d = only_delivery(&h, endpoint.id);
    assert_eq!((d.status, d.attempts, d.delivered_at), (DeliveryStatus::Delivered, MAX_ATTEMPTS + 1, Some(now)));

    let here = ctx();
    let unknown = svc.admin_retry_delivery(&OPERATOR, endpoint.id, portcullis_domain::model::DeliveryId(999), &here);
    assert!(matches!(unknown.await, Err(AdminError::NoSuchWebhook)));
    let (other, _) = create(&svc, &transport, "https://other.example.com/", &["user.*"]).await;
    let elsewhere = svc.admin_retry_delivery(&OPERATOR, other.id, failed.id, &ctx()).await;
    assert!(matches!(elsewhere, Err(AdminError::NoSuchWebhook)), "another endpoint's delivery");
}

#[tokio::test]
async fn a_failed_retry_fails_again_after_one_try() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, _) = create(&svc, &transport, URL, &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;
    fail_every_try(&svc, &h, &transport).await;
    let failed = only_delivery(&h, endpoint.id);
    svc.admin_retry_delivery(&OPERATOR, endpoint.id, failed.id, &ctx()).await.expect("retry");
    transport.script([answered(502)]);
    assert_eq!(round(&svc, &transport).await, WebhookRound { failed: 1, ..WebhookRound::default() });
    let d = only_delivery(&h, endpoint.id);
    assert_eq!((d.status, d.attempts, d.last_status_code), (DeliveryStatus::Failed, MAX_ATTEMPTS + 1, Some(502)));
}

#[tokio::test]
async fn a_test_event_is_sent_even_to_an_endpoint_that_is_off() {
    let (svc, h) = test_service(Policy::default());
    let now = real_now();
    h.clock.set(now);
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, secret) = create(&svc, &transport, URL, &["auth.login.failure"]).await;
    set_enabled(&svc, &transport, endpoint.id, false).await;

    let queued = svc.admin_test_webhook(&OPERATOR, endpoint.id, &ctx()).await.expect("test event");
    assert_eq!(
        (queued.event_type.as_str(), queued.audit_id, queued.status),
        (TEST_EVENT, None, DeliveryStatus::Pending)
    );
    assert_eq!(round(&svc, &transport).await, WebhookRound { delivered: 1, ..WebhookRound::default() });
    let sent = transport.sent();
    let payload = body(&sent[0]);
    assert_eq!(payload["type"], TEST_EVENT);
    assert_eq!(payload["id"], format!("evt_test_{}", queued.id));
    assert_eq!(header(&sent[0], "webhook-id"), format!("evt_test_{}", queued.id));
    assert_eq!(payload["data"]["webhook_id"], endpoint.id.to_string());
    verify(&sent[0], &secret).expect("signed like any event");
    assert_eq!(only_delivery(&h, endpoint.id).status, DeliveryStatus::Delivered);

    let missing = svc.admin_test_webhook(&OPERATOR, WebhookId::new_v7(), &ctx()).await;
    assert!(matches!(missing, Err(AdminError::NoSuchWebhook)));
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_a_day() {
    let (svc, h) = test_service(Policy::default());
    let start = real_now();
    h.clock.set(start);
    let transport = FakeWebhookTransport::accepting();
    let (endpoint, old) = create(&svc, &transport, URL, &["auth.*"]).await;
    let new = svc.admin_rotate_webhook_secret(&OPERATOR, endpoint.id, &ctx()).await.expect("rotate");
    let new = new.0.encoded().expose_secret().to_owned();
    assert_ne!(new, old);
    let rotated = endpoint_of(&svc, endpoint.id).await;
    assert_eq!(rotated.previous_secret.as_ref(), Some(&endpoint.secret));
    assert_eq!(rotated.previous_secret_until, Some(start.plus(ROTATION_OVERLAP)));
    let entry = audits(&h, "admin.webhook.secret_rotated").pop().expect("audited");
    assert_eq!(entry.metadata["previous_secret_until"], start.plus(ROTATION_OVERLAP).to_rfc3339());
    assert!(!serde_json::to_string(&entry.metadata).expect("JSON").contains(&new[6..]));

    login(&svc, &h, "laura@example.com").await;
    assert_eq!(round(&svc, &transport).await.delivered, 1);
    let during = transport.sent().pop().expect("a send");
    let both = signatures(&during);
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both.iter().all(|s| s.starts_with("v1,")));
    assert_eq!(both[0], reference_signature(&during, &new), "the new secret first");
    assert_eq!(both[1], reference_signature(&during, &old));
    verify(&during, &new).expect("a receiver with the new secret accepts it");
    verify(&during, &old).expect("a receiver still on the old secret accepts it");

    h.clock.advance(ROTATION_OVERLAP + Duration::from_secs(1));
    login(&svc, &h, "laura@example.com").await;
    assert_eq!(round(&svc, &transport).await.delivered, 1);
    let after = transport.sent().pop().expect("a send");
    assert_eq!(signatures(&after), [reference_signature(&after, &new)], "only the new secret signs");
    assert_ne!(signatures(&after)[0], reference_signature(&after, &old));

    let missing = svc.admin_rotate_webhook_secret(&OPERATOR, WebhookId::new_v7(), &ctx()).await;
    assert!(matches!(missing, Err(AdminError::NoSuchWebhook)));
}

// ---- reads and removal -----------------------------------------------------------------

#[tokio::test]
async fn endpoints_and_their_deliveries_read_back() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (first, _) = create(&svc, &transport, "https://first.example.com/", &["auth.*"]).await;
    h.clock.advance(Duration::from_secs(1));
    let (second, _) = create(&svc, &transport, "https://second.example.com/", &["user.*"]).await;
    assert_eq!(svc.admin_webhooks(&OPERATOR).await.expect("list"), vec![first.clone(), second.clone()]);
    assert_eq!(endpoint_of(&svc, second.id).await, second);
    assert!(matches!(svc.admin_webhook(&OPERATOR, WebhookId::new_v7()).await, Err(AdminError::NoSuchWebhook)));

    for i in 0..3 {
        h.clock.advance(Duration::from_secs(10));
        login(&svc, &h, &format!("user{i}@example.com")).await;
    }
    transport.script([answered(500)]);
    round(&svc, &transport).await;
    let read = |status, limit, offset| svc.admin_webhook_deliveries(&OPERATOR, first.id, status, limit, offset);
    let page = read(None, 2, 0).await.expect("page");
    assert_eq!((page.items.len(), page.total_count), (2, 3));
    assert!(page.items[0].created_at > page.items[1].created_at, "newest first");
    let rest = read(None, 2, 2).await.expect("page");
    assert_eq!((rest.items.len(), rest.total_count), (1, 3));
    assert!(rest.items[0].created_at < page.items[1].created_at);
    let delivered = read(Some(DeliveryStatus::Delivered), 10, 0).await.expect("page");
    assert_eq!(delivered.total_count, 2);
    let pending = read(Some(DeliveryStatus::Pending), 10, 0).await.expect("page");
    assert_eq!(pending.total_count, 1);
    assert_eq!((pending.items[0].attempts, pending.items[0].last_status_code), (1, Some(500)));
    assert_eq!(read(None, 0, 0).await.expect("page").items.len(), 1, "a limit of 0 is 1");
    assert_eq!(read(None, 1_000_000, 0).await.expect("page").items.len(), 3);
    let second_page = svc.admin_webhook_deliveries(&OPERATOR, second.id, None, 10, 0).await.expect("page");
    assert_eq!(second_page.total_count, 0);
    let missing = svc.admin_webhook_deliveries(&OPERATOR, WebhookId::new_v7(), None, 10, 0).await;
    assert!(matches!(missing, Err(AdminError::NoSuchWebhook)));
}

#[tokio::test]
async fn deleting_a_webhook_removes_its_deliveries() {
    let (svc, h) = test_service(Policy::default());
    let transport = FakeWebhookTransport::accepting();
    let (doomed, _) = create(&svc, &transport, "https://doomed.example.com/", &["auth.*"]).await;
    let (kept, _) = create(&svc, &transport, "https://kept.example.com/", &["auth.*"]).await;
    login(&svc, &h, "laura@example.com").await;
    svc.admin_test_webhook(&OPERATOR, doomed.id, &ctx()).await.expect("test event");
    assert_eq!(deliveries(&h, doomed.id).len(), 2);

    let removed = svc.admin_delete_webhook(&OPERATOR, doomed.id, &ctx()).await.expect("delete");
    assert_eq!(removed, doomed, "returned as it was");
    assert!(deliveries(&h, doomed.id).is_empty());
    assert_eq!(deliveries(&h, kept.id).len(), 1);
    assert_eq!(svc.admin_webhooks(&OPERATOR).await.expect("list"), vec![kept.clone()]);
    assert!(matches!(svc.admin_webhook(&OPERATOR, doomed.id).await, Err(AdminError::NoSuchWebhook)));
    let page = svc.admin_webhook_deliveries(&OPERATOR, doomed.id, None, 10, 0).await;
    assert!(matches!(page, Err(AdminError::NoSuchWebhook)));
    let again = svc.admin_delete_webhook(&OPERATOR, doomed.id, &ctx()).await;
    assert!(matches!(again, Err(AdminError::NoSuchWebhook)));
    let deleted = audits(&h, "admin.webhook.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].metadata["webhook_id"], doomed.id.to_string());

    assert_eq!(round(&svc, &transport).await, WebhookRound { delivered: 1, ..WebhookRound::default() });
    assert!(transport.sent().iter().all(|r| r.url == kept.url));
}

// ---- workers -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rounds_send_each_delivery_once() {
    let (svc, h) = test_service(Policy::default());
    let svc = Arc::new(svc);
    let transport = FakeWebhookTransport::accepting();
    for name in ["a", "b", "c"] {
        create(&svc, &transport, &format!("https://{name}.example.com/"), &["auth.login.success"]).await;
    }
    for i in 0..6 {
        login(&svc, &h, &format!("user{i}@example.com")).await;
    }
    let queued = h.store.webhook_deliveries().len();
    assert_eq!(queued, 18);

    // Two workers side by side on one task, then two spawned on the runtime's threads.
    let (a, b) = tokio::join!(svc.deliver_webhooks(&transport, 4), svc.deliver_webhooks(&transport, 4));
    let joined = a.expect("round").delivered + b.expect("round").delivered;
    assert_eq!(joined, 8, "two rounds of four, disjoint");
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (svc, transport) = (Arc::clone(&svc), transport.clone());
            tokio::spawn(async move {
                let mut delivered = 0;
                for _ in 0..20 {
                    let round = svc.deliver_webhooks(&transport, 3).await.expect("round");
                    if round == WebhookRound::default() {
                        break;
                    }
                    delivered += round.delivered;
                }
                delivered
            })
        })
        .collect();
    let mut spawned = 0;
    for worker in workers {
        spawned += worker.await.expect("a worker");
    }
    assert_eq!(joined + spawned, 18);

    let sent = transport.sent();
    assert_eq!(sent.len(), queued, "each delivery sent once");
    let distinct: HashSet<(String, String)> =
        sent.iter().map(|r| (r.url.to_string(), header(r, "webhook-id").to_owned())).collect();
    assert_eq!(distinct.len(), queued);
    assert!(h.store.webhook_deliveries().iter().all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 1));
}
