//! Pure rules of webhooks: subscriptions, targets, the retry schedule, `Retry-After`, the
//! payload and the Standard Webhooks signature (checked against the reference crate).

use std::net::IpAddr;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use standardwebhooks::Webhook;

use super::*;
use crate::model::{Device, Location, UserId};

/// 2026-03-08T04:46:25.344Z (a Sunday), the contract's example instant.
const T0: Timestamp = Timestamp::from_unix_millis(1_772_945_185_344);

fn ip(text: &str) -> IpAddr {
    text.parse().expect("a literal address")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

// ---- subscriptions -------------------------------------------------------------------

#[test]
fn an_exact_known_event_name_is_a_pattern() {
    for name in ["auth.login.success", "auth.login.failure", "admin.webhook.created", TEST_EVENT] {
        let pattern = EventPattern::parse(name).expect(name);
        assert_eq!(pattern.as_str(), name);
        assert_eq!(pattern.prefix(), None);
        assert!(pattern.matches(name));
    }
    let exact = EventPattern::parse("auth.login.success").unwrap();
    assert!(!exact.matches("auth.login.failure"));
    assert!(!exact.matches("auth.login.success.more"));
    assert!(!exact.matches("auth.login"));
}

#[test]
fn every_audit_action_is_an_event_type() {
    for action in AuditAction::ALL {
        let name = action.as_str();
        let pattern = EventPattern::parse(name).expect(name);
        assert!(pattern.matches(name));
    }
}

#[test]
fn a_prefix_pattern_matches_every_event_under_it() {
    let user = EventPattern::parse("user.*").unwrap();
    assert_eq!(user.prefix(), Some("user."));
    assert!(user.matches("user.profile.updated"));
    assert!(user.matches("user.password.changed"));
    assert!(!user.matches("username.x"), "a prefix stops at a dot");
    assert!(!user.matches("user"));
    assert!(!user.matches("auth.login.success"));

    let nested = EventPattern::parse("auth.login.*").unwrap();
    assert!(nested.matches("auth.login.success"));
    assert!(nested.matches("auth.login.failure"));
    assert!(!nested.matches("auth.logout"));
}

#[test]
fn a_star_matches_everything() {
    let all = EventPattern::parse("*").unwrap();
    assert_eq!((all.as_str(), all.prefix()), ("*", Some("")));
    for event in ["auth.login.success", "user.profile.updated", TEST_EVENT, "anything"] {
        assert!(all.matches(event), "{event}");
    }
}

#[test]
fn a_prefix_need_not_name_a_known_family() {
    // Only exact names are checked against the known events: a prefix may anticipate ones.
    assert!(EventPattern::parse("billing.*").is_ok());
}

#[test]
fn malformed_patterns_are_refused() {
    for text in [
        "",
        "user*",
        "*.x",
        "*.*",
        ".*",
        "user.**",
        "user.*.x",
        "User.*",
        "AUTH.LOGIN.SUCCESS",
        "auth..login",
        ".auth",
        "auth.",
        "auth.login.success ",
        " auth.login.success",
        "auth-login",
        "auth.lögin",
        "user.*x",
    ] {
        assert_eq!(EventPattern::parse(text), Err(PatternError::Malformed), "{text:?}");
    }
    let long = format!("{}.*", "a".repeat(200));
    assert_eq!(EventPattern::parse(&long), Err(PatternError::Malformed));
}

#[test]
fn a_well_formed_unknown_exact_name_is_an_unknown_event() {
    for text in ["auth.login.sucess", "user.profile", "nothing", "webhook.tests"] {
        assert_eq!(EventPattern::parse(text), Err(PatternError::UnknownEvent), "{text:?}");
    }
}

#[test]
fn an_endpoint_subscribes_through_any_of_its_patterns() {
    let mut endpoint = endpoint();
    endpoint.events = vec![EventPattern::parse("auth.login.success").unwrap(), EventPattern::parse("user.*").unwrap()];
    assert!(endpoint.subscribes_to("auth.login.success"));
    assert!(endpoint.subscribes_to("user.profile.updated"));
    assert!(!endpoint.subscribes_to("auth.login.failure"));
}

// ---- target URLs and addresses -------------------------------------------------------

#[test]
fn an_https_url_parses() {
    let url = WebhookUrl::parse("https://hooks.example.com:8443/in/portcullis?key=1").unwrap();
    assert!(url.is_https());
    assert_eq!(url.host(), "hooks.example.com");
    assert_eq!(url.port(), 8443);
    assert_eq!(url.path_and_query(), "/in/portcullis?key=1");
    assert_eq!(url.ip_literal(), None);
    assert_eq!(url.to_string(), "https://hooks.example.com:8443/in/portcullis?key=1");

    let plain = WebhookUrl::parse("http://hooks.example.com").unwrap();
    assert!(!plain.is_https());
    assert_eq!((plain.port(), plain.path_and_query()), (80, "/".to_owned()));

    let v6 = WebhookUrl::parse("https://[2606:4700::1111]/x").unwrap();
    assert_eq!(v6.host(), "2606:4700::1111");
    assert_eq!(v6.ip_literal(), Some(ip("2606:4700::1111")));
}

#[test]
fn malformed_urls_are_refused() {
    for text in [
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        "mailto:ops@example.com",
        "https://user@hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https://:pw@hooks.example.com/x",
        "https://hooks.example.com/x#fragment",
        "https://hooks.example.com/x#",
        "https://",
        "https:///",
        "hooks.example.com/x",
        "/relative",
        "",
        "not a url",
    ] {
        assert_eq!(WebhookUrl::parse(text), Err(TargetRefusal::Malformed), "{text:?}");
    }
}

#[test]
fn a_url_longer_than_the_limit_is_refused() {
    let base = "https://hooks.example.com/";
    let at_limit = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
    assert_eq!(at_limit.len(), MAX_URL_LEN);
    assert!(WebhookUrl::parse(&at_limit).is_ok());
    let over = format!("{at_limit}a");
    assert_eq!(WebhookUrl::parse(&over), Err(TargetRefusal::Malformed));
}

#[test]
fn http_is_refused_unless_allowed() {
    let url = WebhookUrl::parse("http://hooks.example.com/x").unwrap();
    assert_eq!(TargetPolicy::default().check_url(&url), Err(TargetRefusal::InsecureScheme));
    let lenient = TargetPolicy { allow_http: true, ..TargetPolicy::default() };
    assert_eq!(lenient.check_url(&url), Ok(()));
    let https = WebhookUrl::parse("https://hooks.example.com/x").unwrap();
    assert_eq!(TargetPolicy::default().check_url(&https), Ok(()), "a name is checked after resolution");
}

#[test]
fn non_public_addresses_are_refused() {
    let policy = TargetPolicy::default();
    for text in [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.10",
        "198.51.100.7",
        "203.0.113.10",
        "198.18.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2002:a00:1::1",
        "2001:0:a00:1::1",
        "64:ff9b::a00:1",
    ] {
        let address = ip(text);
        assert!(matches!(policy.check_ip(address), Err(TargetRefusal::PrivateAddress(_))), "{text} was allowed");
    }
}

#[test]
fn ipv4_in_ipv6_clothing_is_judged_as_ipv4() {
    let policy = TargetPolicy::default();
    assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Err(TargetRefusal::PrivateAddress(ip("127.0.0.1"))));
    assert_eq!(policy.check_ip(ip("::ffff:10.0.0.1")), Err(TargetRefusal::PrivateAddress(ip("10.0.0.1"))));
    assert_eq!(policy.check_ip(ip("::10.0.0.1")), Err(TargetRefusal::PrivateAddress(ip("10.0.0.1"))));
    assert_eq!(policy.check_ip(ip("::ffff:8.8.8.8")), Ok(()));
}

#[test]
fn public_addresses_are_allowed() {
    let policy = TargetPolicy::default();
    for text in ["8.8.8.8", "1.1.1.1", "81.2.69.142", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700::1111"]
    {
        assert_eq!(policy.check_ip(ip(text)), Ok(()), "{text}");
    }
}

#[test]
fn address_literals_in_urls_are_checked() {
    let policy = TargetPolicy::default();
    for text in [
        "https://127.0.0.1/x",
        "https://10.0.0.1/x",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://0x7f000001/x",
        "https://2130706433/x",
        "https://0177.0.0.1/x",
    ] {
        let url = WebhookUrl::parse(text).expect(text);
        assert!(matches!(policy.check_url(&url), Err(TargetRefusal::PrivateAddress(_))), "{text} was allowed");
    }
    for text in ["https://8.8.8.8/x", "https://[2606:4700::1111]/x"] {
        assert_eq!(policy.check_url(&WebhookUrl::parse(text).unwrap()), Ok(()), "{text}");
    }
}

#[test]
fn allowed_private_ranges_admit_only_their_addresses() {
    let policy =
        TargetPolicy { allow_http: false, allowed_private: vec!["127.0.0.0/8".parse().expect("a literal range")] };
    assert_eq!(policy.check_ip(ip("127.0.0.1")), Ok(()));
    assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
    assert_eq!(policy.check_ip(ip("10.0.0.1")), Err(TargetRefusal::PrivateAddress(ip("10.0.0.1"))));
    assert_eq!(policy.check_ip(ip("::1")), Err(TargetRefusal::PrivateAddress(ip("::1"))));
    assert_eq!(policy.check_url(&WebhookUrl::parse("https://127.0.0.1:9000/in").unwrap()), Ok(()));
}

// ---- retries ---------------------------------------------------------------------------

#[test]
fn retry_delay_follows_the_schedule() {
    let expected = [secs(5), secs(5 * 60), secs(30 * 60), hours(2), hours(5), hours(10), hours(10)];
    assert_eq!(RETRY_SCHEDULE, expected);
    for (attempts, wait) in (1..=7).zip(expected) {
        assert_eq!(retry_delay(attempts, None), Some(wait), "after try {attempts}");
    }
    assert_eq!(MAX_ATTEMPTS, 8);
    assert_eq!(retry_delay(8, None), None, "the eighth failure gives up");
    assert_eq!(retry_delay(9, None), None);
    assert_eq!(retry_delay(u32::MAX, None), None);
    assert_eq!(retry_delay(0, None), None, "no try, no retry");
}

#[test]
fn a_longer_retry_after_is_honoured() {
    assert_eq!(retry_delay(1, Some(secs(60))), Some(secs(60)));
    assert_eq!(retry_delay(1, Some(hours(1))), Some(hours(1)));
    assert_eq!(retry_delay(3, Some(hours(1))), Some(hours(1)));
    assert_eq!(retry_delay(7, Some(hours(10))), Some(hours(10)));
}

#[test]
fn a_shorter_retry_after_is_ignored() {
    assert_eq!(retry_delay(1, Some(Duration::ZERO)), Some(secs(5)));
    assert_eq!(retry_delay(2, Some(secs(10))), Some(secs(5 * 60)));
    assert_eq!(retry_delay(6, Some(hours(1))), Some(hours(10)));
}

#[test]
fn an_absurd_retry_after_is_capped_at_the_longest_step() {
    assert_eq!(retry_delay(1, Some(Duration::from_secs(365 * 86_400))), Some(hours(10)));
    assert_eq!(retry_delay(1, Some(Duration::MAX)), Some(hours(10)));
    assert_eq!(retry_delay(8, Some(hours(1))), None, "never revives a given-up delivery");
}

#[test]
fn retry_after_in_seconds() {
    assert_eq!(parse_retry_after("120", T0), Some(secs(120)));
    assert_eq!(parse_retry_after(" 7 ", T0), Some(secs(7)));
    assert_eq!(parse_retry_after("0", T0), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("99999999999999999999999", T0), Some(Duration::from_secs(u64::MAX)));
}

#[test]
fn retry_after_as_an_http_date() {
    // 2026-03-08T04:46:25Z, a Sunday.
    let now = Timestamp::from_unix_millis(1_772_945_185_000);
    assert_eq!(parse_retry_after("Sun, 08 Mar 2026 05:46:25 GMT", now), Some(hours(1)));
    assert_eq!(parse_retry_after("Mon, 09 Mar 2026 04:46:25 GMT", now), Some(hours(24)));
    assert_eq!(parse_retry_after("Sun, 08 Mar 2026 04:46:25 GMT", now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("Sun, 08 Mar 2026 03:46:25 GMT", now), Some(Duration::ZERO), "past: no wait");
    assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
    // Relative to a `now` with milliseconds.
    assert_eq!(parse_retry_after("Sun, 08 Mar 2026 04:46:35 GMT", T0), Some(Duration::from_millis(9_656)));
}

#[test]
fn unreadable_retry_after_is_none() {
    for text in [
        "",
        "   ",
        "soon",
        "-5",
        "+5",
        "1.5",
        "12 s",
        "0x10",
        "2026-03-08T05:46:25Z",
        "Sunday, 08-Mar-26 05:46:25 GMT",
        "Sun, 08 Mar 2026 05:46:25 UTC",
        "Sun, 32 Mar 2026 05:46:25 GMT",
    ] {
        assert_eq!(parse_retry_after(text, T0), None, "{text:?}");
    }
}

// ---- payload ---------------------------------------------------------------------------

fn endpoint() -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::new_v7(),
        url: WebhookUrl::parse("https://hooks.example.com/in").unwrap(),
        events: vec![EventPattern::parse("*").unwrap()],
        description: String::new(),
        enabled: true,
        disabled_reason: None,
        secret: SealedSecret(b"current".to_vec()),
        previous_secret: None,
        previous_secret_until: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn delivery(audit_id: Option<i64>, event_type: &str) -> WebhookDelivery {
    WebhookDelivery {
        id: DeliveryId(17),
        webhook_id: WebhookId::new_v7(),
        audit_id,
        event_type: event_type.to_owned(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_status_code: None,
        last_error: None,
        next_attempt_at: Some(T0.plus(secs(1))),
        created_at: T0.plus(secs(1)),
        delivered_at: None,
    }
}

/// A login entry whose metadata holds only harmless facts.
fn entry(user: UserId) -> AuditEntry {
    let mut metadata = serde_json::Map::new();
    metadata.insert("method".into(), json!("password"));
    metadata.insert("remember_me".into(), json!(false));
    metadata.insert("new_device".into(), json!(true));
    AuditEntry {
        id: 42,
        user_id: Some(user),
        action: "auth.login.success".to_owned(),
        ip_address: Some(ip("81.2.69.142")),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_owned()),
        device: Device {
            browser: Some("Firefox".into()),
            browser_version: Some("128.0".into()),
            os: Some("Linux".into()),
            os_version: None,
            device_type: Some("desktop".into()),
        },
        location: Some(Location {
            country_code: Some("GB".into()),
            country: Some("United Kingdom".into()),
            region: Some("England".into()),
            city: Some("London".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            timezone: Some("Europe/London".into()),
        }),
        fingerprint: Some("fp-123".into()),
        metadata,
        created_at: T0,
    }
}

/// Every object key in `value`, at any depth.
fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn the_payload_reports_the_audit_entry() {
    let user = UserId::new_v7();
    let entry = entry(user);
    let delivery = delivery(Some(entry.id), &entry.action);
    let body: Value = serde_json::from_slice(&event_payload(&delivery, Some(&entry))).expect("JSON");
    let top: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(top.len(), 4, "{top:?}");
    assert_eq!(body["id"], "evt_42");
    assert_eq!(body["id"], delivery.event_id());
    assert_eq!(body["type"], "auth.login.success");
    assert_eq!(body["timestamp"], "2026-03-08T04:46:25.344Z", "the entry's time, not the delivery's");
    let data = &body["data"];
    assert_eq!(data["user_id"], user.to_string());
    assert_eq!(data["audit_id"], 42);
    assert_eq!(data["ip_address"], "81.2.69.142");
    assert_eq!(data["device"]["browser"], "Firefox");
    assert_eq!(data["device"]["device_type"], "desktop");
    assert_eq!(data["location"]["city"], "London");
    assert_eq!(data["location"]["country_code"], "GB");
    assert_eq!(data["metadata"], json!({"method": "password", "remember_me": false, "new_device": true}));
}

#[test]
fn the_payload_of_an_anonymous_entry_has_nulls() {
    let mut entry = entry(UserId::new_v7());
    entry.user_id = None;
    entry.ip_address = None;
    entry.location = None;
    let body: Value = serde_json::from_slice(&event_payload(&delivery(Some(entry.id), "x"), Some(&entry))).unwrap();
    assert_eq!((&body["data"]["user_id"], &body["data"]["ip_address"]), (&Value::Null, &Value::Null));
    assert_eq!(body["data"]["location"], Value::Null);
}

#[test]
fn the_payload_is_deterministic() {
    let entry = entry(UserId::new_v7());
    let delivery = delivery(Some(entry.id), &entry.action);
    let first = event_payload(&delivery, Some(&entry));
    let mut retried = delivery.clone();
    retried.attempts = 5;
    retried.last_error = Some("answered 500".into());
    retried.next_attempt_at = Some(T0.plus(hours(2)));
    assert_eq!(first, event_payload(&delivery, Some(&entry)));
    assert_eq!(first, event_payload(&retried, Some(&entry)), "every try carries the same bytes");
}

#[test]
fn the_payload_carries_no_secret_field() {
    let entry = entry(UserId::new_v7());
    let body: Value =
        serde_json::from_slice(&event_payload(&delivery(Some(entry.id), &entry.action), Some(&entry))).unwrap();
    let mut all = Vec::new();
    keys(&body, &mut all);
    assert!(all.len() > 20, "{all:?}");
    for key in &all {
        let key = key.to_ascii_lowercase();
        assert!(
            !(key.contains("password") || key.contains("token") || key.contains("secret") || key == "code"),
            "payload field {key}"
        );
    }
    assert!(!all.iter().any(|k| k == "fingerprint"), "the fingerprint stays in the audit log");
}

#[test]
fn the_payload_of_a_test_event() {
    let delivery = delivery(None, TEST_EVENT);
    let body: Value = serde_json::from_slice(&event_payload(&delivery, None)).unwrap();
    assert_eq!(body["id"], "evt_test_17");
    assert_eq!(body["type"], TEST_EVENT);
    assert_eq!(body["timestamp"], "2026-03-08T04:46:26.344Z", "the delivery's time");
    assert_eq!(body["data"]["webhook_id"], delivery.webhook_id.to_string());
}

#[test]
fn event_ids_are_per_event_not_per_delivery() {
    let mut a = delivery(Some(7), "auth.login.success");
    let mut b = delivery(Some(7), "auth.login.success");
    a.id = DeliveryId(1);
    b.id = DeliveryId(2);
    b.webhook_id = WebhookId::new_v7();
    assert_eq!(a.event_id(), "evt_7");
    assert_eq!(a.event_id(), b.event_id(), "receivers can drop duplicates across endpoints");
    let test = delivery(None, TEST_EVENT);
    assert_eq!(test.event_id(), "evt_test_17");
}

#[test]
fn delivery_status_names_round_trip() {
    for status in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
        assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(DeliveryStatus::parse("Pending"), None);
    assert_eq!("12".parse::<DeliveryId>(), Ok(DeliveryId(12)));
    assert_eq!(DeliveryId(12).to_string(), "12");
}

#[test]
fn the_previous_secret_signs_only_during_the_overlap() {
    let mut endpoint = endpoint();
    assert_eq!(endpoint.signing_secrets(T0), vec![&SealedSecret(b"current".to_vec())]);
    endpoint.previous_secret = Some(SealedSecret(b"previous".to_vec()));
    endpoint.previous_secret_until = Some(T0.plus(ROTATION_OVERLAP));
    let both = [SealedSecret(b"current".to_vec()), SealedSecret(b"previous".to_vec())];
    assert_eq!(endpoint.signing_secrets(T0), both.iter().collect::<Vec<_>>());
    assert_eq!(endpoint.signing_secrets(T0.plus(ROTATION_OVERLAP).minus(Duration::from_millis(1))).len(), 2);
    assert_eq!(endpoint.signing_secrets(T0.plus(ROTATION_OVERLAP)), vec![&both[0]]);
}

// ---- the signature -------------------------------------------------------------------

fn secret(fill: u8) -> WebhookSecret {
    WebhookSecret::from_bytes(Zeroizing::new((0..32).map(|i| fill ^ i).collect()))
}

/// The reference verifier of the `whsec_` form of `secret`.
fn reference(secret: &WebhookSecret) -> Webhook {
    Webhook::new(secret.encoded().expose_secret()).expect("a whsec_ secret")
}

fn headers(id: &str, timestamp: i64, signature: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", id.parse().expect("header"));
    headers.insert("webhook-timestamp", timestamp.to_string().parse().expect("header"));
    headers.insert("webhook-signature", signature.parse().expect("header"));
    headers
}

/// Seconds since the epoch, now: the reference rejects timestamps five minutes off.
fn real_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn a_secret_is_shown_as_whsec_base64() {
    let secret = secret(0);
    let shown = secret.encoded();
    let encoded = shown.expose_secret().strip_prefix("whsec_").expect("the whsec_ prefix");
    assert_eq!(STANDARD.decode(encoded).unwrap(), secret.expose_bytes());
    assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
}

#[test]
fn the_reference_verifies_our_signature() {
    let secret = secret(0x17);
    let body = br#"{"id":"evt_1","type":"auth.login.success"}"#;
    let now = real_now();
    let signature = sign("evt_1", now, body, &[secret.expose_bytes()]);
    assert!(signature.starts_with("v1,"), "{signature}");
    assert!(!signature.contains(' '));
    reference(&secret).verify(body, &headers("evt_1", now, &signature)).expect("the reference accepts it");
}

#[test]
fn two_secrets_give_two_signatures_each_verifying_alone() {
    let (current, previous) = (secret(0x01), secret(0x02));
    let body = br#"{"id":"evt_2"}"#;
    let now = real_now();
    let signature = sign("evt_2", now, body, &[current.expose_bytes(), previous.expose_bytes()]);
    let parts: Vec<&str> = signature.split(' ').collect();
    assert_eq!(parts.len(), 2, "{signature}");
    assert!(parts.iter().all(|p| p.starts_with("v1,")));
    assert_eq!(parts[0], sign("evt_2", now, body, &[current.expose_bytes()]));
    assert_eq!(parts[1], sign("evt_2", now, body, &[previous.expose_bytes()]));
    let headers = headers("evt_2", now, &signature);
    reference(&current).verify(body, &headers).expect("the current secret verifies");
    reference(&previous).verify(body, &headers).expect("the previous secret verifies");
    assert!(reference(&secret(0x03)).verify(body, &headers).is_err(), "another secret does not");
}

#[test]
fn a_tampered_delivery_fails_verification() {
    let secret = secret(0x42);
    let body = br#"{"id":"evt_3","type":"auth.login.success"}"#;
    let now = real_now();
    let signature = sign("evt_3", now, body, &[secret.expose_bytes()]);
    let verifier = reference(&secret);
    verifier.verify(body, &headers("evt_3", now, &signature)).expect("untouched");
    assert!(
        verifier.verify(br#"{"id":"evt_3","type":"auth.login.failure"}"#, &headers("evt_3", now, &signature)).is_err()
    );
    assert!(verifier.verify(body, &headers("evt_4", now, &signature)).is_err(), "another id");
    assert!(verifier.verify(body, &headers("evt_3", now - 1, &signature)).is_err(), "another timestamp");
}

#[test]
fn our_signature_equals_the_references() {
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    // The reference crate's own test vector.
    let theirs = Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let key = STANDARD.decode("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let ours = sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body, &[&key]);
    assert_eq!(ours, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    assert_eq!(ours, theirs.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body).unwrap());

    for fill in [0u8, 0x5a, 0xff] {
        let secret = secret(fill);
        for (id, ts) in [("evt_1", 0_i64), ("evt_test_9", 1_772_945_185), ("evt_123456", 4_102_444_800)] {
            assert_eq!(sign(id, ts, body, &[secret.expose_bytes()]), reference(&secret).sign(id, ts, body).unwrap());
        }
    }
}

#[test]
fn the_audited_form_of_a_url_is_its_origin() {
    let url = WebhookUrl::parse("https://hooks.example.com/in?token=s3cret&x=1").unwrap();
    assert_eq!(url.redacted(), "https://hooks.example.com/…");
    // Slack and Discord keep the credential in the path.
    let slack = WebhookUrl::parse("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX").unwrap();
    assert_eq!(slack.redacted(), "https://hooks.slack.com/…");
    assert!(!format!("{slack:?}").contains("secret"), "Debug shows the redacted form");
    let port = WebhookUrl::parse("http://10.1.2.3:8080").unwrap();
    assert_eq!(port.redacted(), "http://10.1.2.3:8080");
}

#[test]
fn a_url_longer_than_the_limit_once_normalised_is_refused() {
    // Percent-encoding triples each of these: 700 characters in, over 4,000 stored.
    let long = format!("https://93.184.215.14/{}", "é".repeat(700));
    assert!(long.len() < MAX_URL_LEN);
    assert_eq!(WebhookUrl::parse(&long), Err(TargetRefusal::Malformed));
    // Stored rows read back whatever their length.
    let stored = format!("https://93.184.215.14/{}", "a".repeat(MAX_URL_LEN));
    assert!(WebhookUrl::from_stored(&stored).is_ok());
}

#[test]
fn a_stored_subscription_to_an_event_no_longer_emitted_reads_back() {
    assert_eq!(EventPattern::parse("auth.retired.event"), Err(PatternError::UnknownEvent));
    let stored = EventPattern::from_stored("auth.retired.event").unwrap();
    assert!(!stored.matches("auth.login.success"));
    assert_eq!(EventPattern::from_stored("Auth.*"), Err(PatternError::Malformed));
}
