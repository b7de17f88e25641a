//! Webhook endpoints and their deliveries ([`WebhookStore`]): round trips, the fan-out of
//! appended audit entries in their commit, claims and leases, recorded tries, pages and the
//! backlog. Run with [`crate::webhook_store_contract_tests!`] (not every store has webhooks).
//!
//! Deliveries are identified by the audit entry they report where an endpoint subscribed to
//! `*` would also see the `admin.webhook.*` entries the endpoint writes append.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{
    AuditAction, DeliveryId, DeliveryStatus, DueDelivery, EventPattern, NewAuditEntry, SealedSecret, TEST_EVENT,
    Timestamp, WebhookDelivery, WebhookEndpoint, WebhookId, WebhookUrl,
};
use portcullis_domain::ports::{Change, DeliveryBacklog, EndpointChanges, Store, StoreError, TryOutcome, WebhookStore};

use super::{T0, audit_ids, commit_ok, history, insert_user};
use crate::fixtures::{audit, user};

const LEASE: Duration = Duration::from_secs(120);

fn secs(s: u64) -> Timestamp {
    T0.plus(Duration::from_secs(s))
}

fn patterns(texts: &[&str]) -> Vec<EventPattern> {
    texts.iter().map(|t| EventPattern::parse(t).expect("a fixture pattern")).collect()
}

/// An enabled endpoint created (and last changed) at `at`, with a sealed secret of bytes
/// a text column would not keep.
fn endpoint(url: &str, events: &[&str], at: Timestamp) -> WebhookEndpoint {
    let id = WebhookId::new_v7();
    let mut secret = vec![0, 0xff, 0x80, b'\n'];
    secret.extend_from_slice(id.as_uuid().as_bytes());
    WebhookEndpoint {
        id,
        url: WebhookUrl::parse(url).expect("a fixture URL"),
        events: patterns(events),
        description: String::new(),
        enabled: true,
        disabled_reason: None,
        secret: SealedSecret(secret),
        previous_secret: None,
        previous_secret_until: None,
        created_at: at,
        updated_at: at,
    }
}

/// The endpoint with its subscriptions in a canonical order: a store may keep them in a
/// table of their own and read them back in another order.
fn normalised(mut endpoint: WebhookEndpoint) -> WebhookEndpoint {
    endpoint.events.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    endpoint
}

fn created_audit(at: Timestamp) -> portcullis_domain::model::NewAuditEntry {
    audit(None, AuditAction::AdminWebhookCreated, at)
}

/// Stores `endpoint` (with an `admin.webhook.created` entry at its creation time).
async fn add<S: Store + WebhookStore>(store: &S, endpoint: &WebhookEndpoint) {
    store.insert_endpoint(endpoint.clone(), created_audit(endpoint.created_at)).await.expect("insert_endpoint");
}

async fn read<S: Store + WebhookStore>(store: &S, id: WebhookId) -> WebhookEndpoint {
    store.endpoint(id).await.expect("endpoint").expect("a stored endpoint")
}

/// Appends one entry of `action` at `at` (about nobody) and returns its id.
async fn append<S: Store + WebhookStore>(store: &S, action: AuditAction, at: Timestamp) -> i64 {
    let done = commit_ok(store, vec![Change::AppendAudit(audit(None, action, at))]).await;
    done.audit_id(0).expect("an appended entry")
}

/// Every delivery of an endpoint, newest first.
async fn deliveries_of<S: Store + WebhookStore>(store: &S, id: WebhookId) -> Vec<WebhookDelivery> {
    store.deliveries(id, None, 1000, 0).await.expect("deliveries").items
}

/// The deliveries of an endpoint reporting audit entry `audit_id`.
async fn reporting<S: Store + WebhookStore>(store: &S, id: WebhookId, audit_id: i64) -> Vec<WebhookDelivery> {
    deliveries_of(store, id).await.into_iter().filter(|d| d.audit_id == Some(audit_id)).collect()
}

async fn claim<S: Store + WebhookStore>(store: &S, now: Timestamp, limit: u32) -> Vec<DueDelivery> {
    // A cap per endpoint above anything these cases queue: they test the rest.
    store.claim_deliveries(now, LEASE, limit, 1_000).await.expect("claim_deliveries")
}

fn retried_audit() -> NewAuditEntry {
    audit(None, AuditAction::AdminWebhookDeliveryRetried, secs(100))
}

fn ids(claimed: &[DueDelivery]) -> Vec<DeliveryId> {
    claimed.iter().map(|d| d.delivery.id).collect()
}

async fn delivery<S: Store + WebhookStore>(store: &S, webhook: WebhookId, id: DeliveryId) -> WebhookDelivery {
    deliveries_of(store, webhook).await.into_iter().find(|d| d.id == id).expect("a stored delivery")
}

fn give_up(status: u16) -> TryOutcome {
    TryOutcome::GiveUp { status: Some(status), error: format!("answered {status}"), disable_endpoint: false }
}

/// An endpoint reads back field for field (secrets, subscriptions, the previous secret), in
/// the list oldest first; its creation is audited in the same write.
pub async fn webhook_endpoint_round_trips<S: Store + WebhookStore>(store: &S) {
    let ana = insert_user(store, "ana@example.com").await;
    let mut full = endpoint("https://hooks.example.com:8443/in/portcullis?tenant=7", &["auth.*", "user.*"], secs(2));
    full.events.push(EventPattern::parse("admin.user.suspended").expect("pattern"));
    full.description = "Ops — Grafana «alerts» 🔔".to_owned();
    full.enabled = false;
    full.disabled_reason = Some("gone".to_owned());
    full.previous_secret = Some(SealedSecret(vec![9, 8, 7, 0, 255]));
    full.previous_secret_until = Some(T0.plus(Duration::from_millis(86_400_123)));
    full.updated_at = secs(3);
    let plain = endpoint("https://[2606:4700::1111]/x", &["*"], secs(1));
    let mut creation = audit(Some(ana.id), AuditAction::AdminWebhookCreated, secs(2));
    creation.metadata.insert("webhook_id".to_owned(), full.id.to_string().into());
    store.insert_endpoint(full.clone(), creation).await.expect("insert_endpoint");
    add(store, &plain).await;

    assert_eq!(store.endpoint(full.id).await.expect("endpoint").map(normalised), Some(normalised(full.clone())));
    assert_eq!(store.endpoint(plain.id).await.expect("endpoint"), Some(plain.clone()));
    assert_eq!(store.endpoint(WebhookId::new_v7()).await.expect("endpoint"), None);
    let all: Vec<WebhookEndpoint> = store.endpoints().await.expect("endpoints").into_iter().map(normalised).collect();
    assert_eq!(all, vec![plain, normalised(full.clone())], "oldest first");

    let audited = history(store, &ana, &[AuditAction::AdminWebhookCreated]).await;
    assert_eq!(audited.total_count, 1);
    assert_eq!(audited.items[0].metadata["webhook_id"], full.id.to_string());
}

/// `update_endpoint` changes only the fields it is given (subscriptions replaced), stamps
/// `updated_at`, and turning an endpoint on clears the reason it was turned off. An unknown
/// endpoint is `None` and audits nothing.
pub async fn webhook_update_endpoint_changes_only_given_fields<S: Store + WebhookStore>(store: &S) {
    let ana = insert_user(store, "ana@example.com").await;
    let mut original = endpoint("https://hooks.example.com/a", &["auth.login.success", "user.*"], T0);
    original.description = "first".to_owned();
    original.enabled = false;
    original.disabled_reason = Some("gone".to_owned());
    add(store, &original).await;
    let other = endpoint("https://other.example.com/", &["*"], secs(1));
    add(store, &other).await;
    let updated = |at| audit(Some(ana.id), AuditAction::AdminWebhookUpdated, at);

    let changes = EndpointChanges { description: Some("second".to_owned()), ..EndpointChanges::default() };
    let after = store.update_endpoint(original.id, changes, secs(10), updated(secs(10))).await.expect("update");
    let expected = WebhookEndpoint { description: "second".to_owned(), updated_at: secs(10), ..original.clone() };
    assert_eq!(after.map(normalised), Some(normalised(expected.clone())));
    assert_eq!(normalised(read(store, original.id).await), normalised(expected.clone()));

    let changes = EndpointChanges {
        url: Some(WebhookUrl::parse("https://new.example.com/in?x=1").expect("url")),
        events: Some(patterns(&["auth.login.failure"])),
        ..EndpointChanges::default()
    };
    store.update_endpoint(original.id, changes, secs(20), updated(secs(20))).await.expect("update");
    let after = read(store, original.id).await;
    assert_eq!(after.url.as_str(), "https://new.example.com/in?x=1");
    assert_eq!(after.events, patterns(&["auth.login.failure"]), "replaced, not added to");
    assert_eq!((after.description.as_str(), after.enabled, after.updated_at), ("second", false, secs(20)));
    assert_eq!(after.disabled_reason.as_deref(), Some("gone"));
    assert_eq!((&after.secret, after.created_at), (&original.secret, original.created_at));

    let on = EndpointChanges { enabled: Some(true), ..EndpointChanges::default() };
    let after = store.update_endpoint(original.id, on, secs(30), updated(secs(30))).await.expect("update");
    let after = after.expect("the endpoint");
    assert!(after.enabled);
    assert_eq!(after.disabled_reason, None, "turning on clears the reason");
    let off = EndpointChanges { enabled: Some(false), ..EndpointChanges::default() };
    store.update_endpoint(original.id, off, secs(40), updated(secs(40))).await.expect("update");
    let after = read(store, original.id).await;
    assert_eq!((after.enabled, after.disabled_reason, after.updated_at), (false, None, secs(40)));

    assert_eq!(read(store, other.id).await, other, "other endpoints untouched");
    let missing = store
        .update_endpoint(WebhookId::new_v7(), EndpointChanges::default(), secs(50), updated(secs(50)))
        .await
        .expect("update");
    assert_eq!(missing, None);
    assert_eq!(history(store, &ana, &[AuditAction::AdminWebhookUpdated]).await.total_count, 4);
}

/// `rotate_secret` keeps the replaced secret as the previous one until the given time; a
/// second rotation replaces the previous one. An unknown endpoint is `false`.
pub async fn webhook_rotate_secret_keeps_the_previous_secret<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/a", &["auth.*"], T0);
    add(store, &ep).await;
    let rotated = |at| audit(None, AuditAction::AdminWebhookSecretRotated, at);
    let second = SealedSecret(vec![2; 40]);
    let until = T0.plus(Duration::from_millis(86_410_001));
    assert!(store.rotate_secret(ep.id, second.clone(), until, secs(10), rotated(secs(10))).await.expect("rotate"));
    let after = read(store, ep.id).await;
    assert_eq!(after.secret, second);
    assert_eq!(after.previous_secret.as_ref(), Some(&ep.secret));
    assert_eq!((after.previous_secret_until, after.updated_at), (Some(until), secs(10)));
    assert_eq!((after.url, after.events, after.enabled), (ep.url.clone(), ep.events.clone(), true));

    let third = SealedSecret(vec![3; 40]);
    let later = secs(90_000);
    assert!(store.rotate_secret(ep.id, third.clone(), later, secs(20), rotated(secs(20))).await.expect("rotate"));
    let after = read(store, ep.id).await;
    assert_eq!((after.secret, after.previous_secret, after.previous_secret_until), (third, Some(second), Some(later)));

    let missing = store.rotate_secret(WebhookId::new_v7(), SealedSecret(vec![4]), later, secs(30), rotated(secs(30)));
    assert!(!missing.await.expect("rotate"));
}

/// `delete_endpoint` removes the endpoint and its deliveries, pending and kept, and no
/// other endpoint's; a second delete is `false`.
pub async fn webhook_delete_endpoint_removes_its_deliveries<S: Store + WebhookStore>(store: &S) {
    let doomed = endpoint("https://doomed.example.com/", &["auth.*"], T0);
    let kept = endpoint("https://kept.example.com/", &["auth.*"], T0);
    add(store, &doomed).await;
    add(store, &kept).await;
    append(store, AuditAction::LoginSuccess, secs(1)).await;
    append(store, AuditAction::LoginFailure, secs(2)).await;
    let claimed = claim(store, secs(5), 10).await;
    assert_eq!(claimed.len(), 4);
    let failed = claimed.iter().find(|d| d.delivery.webhook_id == doomed.id).expect("one of doomed's");
    store.record_try(&failed.lease, give_up(500), secs(5)).await.expect("record_try");
    assert_eq!(deliveries_of(store, doomed.id).await.len(), 2);
    assert_eq!(store.delivery_backlog().await.expect("backlog").failed, 1);

    let deleted = store.delete_endpoint(doomed.id, audit(None, AuditAction::AdminWebhookDeleted, secs(6)));
    assert!(deleted.await.expect("delete"));
    assert_eq!(store.endpoint(doomed.id).await.expect("endpoint"), None);
    let page = store.deliveries(doomed.id, None, 100, 0).await.expect("deliveries");
    assert_eq!((page.items.len(), page.total_count), (0, 0));
    assert_eq!(deliveries_of(store, kept.id).await.len(), 2);
    assert_eq!(store.endpoints().await.expect("endpoints"), vec![kept.clone()]);
    let claimed = claim(store, secs(1000), 10).await;
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|d| d.delivery.webhook_id == kept.id), "{claimed:?}");
    let backlog = store.delivery_backlog().await.expect("backlog");
    assert_eq!(backlog.failed, 0, "the kept failure went with its endpoint");

    let again = store.delete_endpoint(doomed.id, audit(None, AuditAction::AdminWebhookDeleted, secs(7)));
    assert!(!again.await.expect("delete"));
}

/// Appending an audit entry queues one pending delivery, due at the entry's time, for every
/// enabled endpoint subscribed to its action: by exact name, prefix or `*`, and only one for
/// an endpoint that matches through two subscriptions.
pub async fn webhook_appended_audit_fans_out_to_subscribers<S: Store + WebhookStore>(store: &S) {
    let exact = endpoint("https://exact.example.com/", &["auth.login.success"], T0);
    let prefix = endpoint("https://prefix.example.com/", &["auth.*"], T0);
    let star = endpoint("https://star.example.com/", &["*"], T0);
    let other = endpoint("https://other.example.com/", &["user.*", "admin.user.created"], T0);
    let double = endpoint("https://double.example.com/", &["auth.login.success", "auth.login.*", "auth.*"], T0);
    let mut off = endpoint("https://off.example.com/", &["auth.*", "*"], T0);
    off.enabled = false;
    for ep in [&exact, &prefix, &star, &other, &double, &off] {
        add(store, ep).await;
    }

    let at = T0.plus(Duration::from_millis(10_007));
    let login = append(store, AuditAction::LoginSuccess, at).await;
    for (ep, expected) in [(&exact, 1), (&prefix, 1), (&star, 1), (&other, 0), (&double, 1), (&off, 0)] {
        let queued = reporting(store, ep.id, login).await;
        assert_eq!(queued.len(), expected, "{}: {queued:?}", ep.url);
        for d in queued {
            assert_eq!((d.webhook_id, d.event_type.as_str()), (ep.id, "auth.login.success"));
            assert_eq!(
                (d.status, d.attempts, d.next_attempt_at, d.created_at),
                (DeliveryStatus::Pending, 0, Some(at), at)
            );
            assert_eq!((d.last_status_code, d.last_error, d.delivered_at), (None, None, None));
        }
    }

    // Two entries in one commit: each fans out.
    let done = commit_ok(
        store,
        vec![
            Change::AppendAudit(audit(None, AuditAction::LoginFailure, secs(20))),
            Change::AppendAudit(audit(None, AuditAction::AdminUserCreated, secs(20))),
        ],
    )
    .await;
    let ids = audit_ids(&done, 2);
    let (failure, created) = (ids[0], ids[1]);
    for (ep, on_failure, on_created) in
        [(&exact, 0, 0), (&prefix, 1, 0), (&star, 1, 1), (&other, 0, 1), (&double, 1, 0), (&off, 0, 0)]
    {
        assert_eq!(reporting(store, ep.id, failure).await.len(), on_failure, "{}", ep.url);
        assert_eq!(reporting(store, ep.id, created).await.len(), on_created, "{}", ep.url);
    }
    let failure_delivery = &reporting(store, prefix.id, failure).await[0];
    assert_eq!(
        (failure_delivery.event_type.as_str(), failure_delivery.next_attempt_at),
        ("auth.login.failure", Some(secs(20)))
    );
}

/// The subscriptions of the moment count: an endpoint turned off or re-subscribed gets
/// deliveries by its new settings only; what it was queued before stays.
pub async fn webhook_fan_out_follows_endpoint_changes<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.login.success"], T0);
    add(store, &ep).await;
    let first = append(store, AuditAction::LoginSuccess, secs(1)).await;
    let change = |changes: EndpointChanges, at| {
        store.update_endpoint(ep.id, changes, at, audit(None, AuditAction::AdminWebhookUpdated, at))
    };
    change(EndpointChanges { enabled: Some(false), ..EndpointChanges::default() }, secs(2)).await.expect("update");
    let while_off = append(store, AuditAction::LoginSuccess, secs(3)).await;
    change(EndpointChanges { enabled: Some(true), ..EndpointChanges::default() }, secs(4)).await.expect("update");
    change(EndpointChanges { events: Some(patterns(&["user.*"])), ..EndpointChanges::default() }, secs(5))
        .await
        .expect("update");
    let unsubscribed = append(store, AuditAction::LoginSuccess, secs(6)).await;
    let profile = append(store, AuditAction::ProfileUpdated, secs(7)).await;
    let audit_ids: Vec<Option<i64>> = deliveries_of(store, ep.id).await.iter().map(|d| d.audit_id).collect();
    assert!(audit_ids.contains(&Some(first)));
    assert!(audit_ids.contains(&Some(profile)));
    assert!(!audit_ids.contains(&Some(while_off)));
    assert!(!audit_ids.contains(&Some(unsubscribed)));
    assert_eq!(audit_ids.len(), 2, "{audit_ids:?}");
}

/// A commit that fails after its `AppendAudit` queues no delivery.
pub async fn webhook_failed_commit_queues_no_delivery<S: Store + WebhookStore>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    add(store, &ep).await;
    let changes = vec![
        Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, secs(1))),
        Change::AppendAudit(audit(None, AuditAction::LoginFailure, secs(1))),
        Change::InsertUser(user("laura@example.com", T0)),
    ];
    let err = store.commit(changes).await.expect_err("duplicate accepted");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
    let page = store.deliveries(ep.id, None, 100, 0).await.expect("deliveries");
    assert_eq!((page.items.len(), page.total_count), (0, 0));
    assert!(claim(store, secs(100_000), 100).await.is_empty());
    assert_eq!(store.delivery_backlog().await.expect("backlog").pending, 0);
}

/// A claim hands out pending deliveries that are due, of enabled endpoints, earliest due
/// first and at most `limit`, each with its endpoint and audit entry. A test event is
/// claimed even for an endpoint that is off.
pub async fn webhook_claims_only_due_pending_deliveries_of_enabled_endpoints<S: Store + WebhookStore>(store: &S) {
    let on = endpoint("https://on.example.com/", &["auth.*"], T0);
    let off = endpoint("https://off.example.com/", &["auth.*"], T0);
    add(store, &on).await;
    add(store, &off).await;
    let early = append(store, AuditAction::LoginFailure, secs(1)).await;
    let soon = append(store, AuditAction::LoginSuccess, secs(2)).await;
    let later = append(store, AuditAction::LoginSuccess, secs(100)).await;
    let turn_off = EndpointChanges { enabled: Some(false), ..EndpointChanges::default() };
    store
        .update_endpoint(off.id, turn_off, secs(3), audit(None, AuditAction::AdminWebhookUpdated, secs(3)))
        .await
        .expect("update");
    assert_eq!(deliveries_of(store, off.id).await.len(), 3, "queued while it was on, and kept");

    assert!(claim(store, T0, 10).await.is_empty(), "nothing due yet");
    let first = claim(store, secs(50), 1).await;
    assert_eq!(first.len(), 1, "at most the limit");
    let d = &first[0];
    assert_eq!((d.delivery.webhook_id, d.delivery.audit_id), (on.id, Some(early)), "earliest due first");
    assert_eq!(normalised(d.endpoint.clone()), normalised(read(store, on.id).await));
    let entry = d.entry.as_ref().expect("the audit entry");
    assert_eq!((entry.id, entry.action.as_str(), entry.created_at), (early, "auth.login.failure", secs(1)));
    let rest = claim(store, secs(50), 10).await;
    assert_eq!(
        rest.iter().map(|d| (d.delivery.webhook_id, d.delivery.audit_id)).collect::<Vec<_>>(),
        vec![(on.id, Some(soon))]
    );

    // Delivered: not pending any more, never claimed again.
    for d in first.iter().chain(&rest) {
        store.record_try(&d.lease, TryOutcome::Delivered { status: 200 }, secs(50)).await.expect("record_try");
    }
    let test = store
        .enqueue_test(off.id, secs(60), audit(None, AuditAction::AdminWebhookTested, secs(60)))
        .await
        .expect("enqueue_test")
        .expect("an endpoint");
    assert_eq!((test.webhook_id, test.audit_id, test.event_type.as_str()), (off.id, None, TEST_EVENT));
    assert_eq!(
        (test.status, test.attempts, test.next_attempt_at, test.created_at),
        (DeliveryStatus::Pending, 0, Some(secs(60)), secs(60))
    );
    assert_eq!(
        store
            .enqueue_test(WebhookId::new_v7(), secs(60), audit(None, AuditAction::AdminWebhookTested, secs(60)))
            .await
            .expect("enqueue_test"),
        None
    );

    let claimed = claim(store, secs(200), 10).await;
    let mut got: Vec<(WebhookId, Option<i64>)> =
        claimed.iter().map(|d| (d.delivery.webhook_id, d.delivery.audit_id)).collect();
    got.sort_by_key(|(_, audit)| *audit);
    assert_eq!(got, vec![(off.id, None), (on.id, Some(later))]);
    let test_due = claimed.iter().find(|d| d.delivery.audit_id.is_none()).expect("the test event");
    assert_eq!((test_due.delivery.id, test_due.entry.as_ref()), (test.id, None));
    assert!(!test_due.endpoint.enabled);
    assert!(
        claim(store, secs(100_000), 10)
            .await
            .iter()
            .all(|d| d.delivery.webhook_id == on.id || d.delivery.audit_id.is_none())
    );
}

/// A claimed delivery is not handed out again until its lease ends.
pub async fn webhook_lease_hides_a_claimed_delivery<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    add(store, &ep).await;
    append(store, AuditAction::LoginSuccess, T0).await;
    let first = claim(store, secs(10), 10).await;
    assert_eq!(first.len(), 1);
    assert!(claim(store, secs(10), 10).await.is_empty());
    assert!(claim(store, secs(129), 10).await.is_empty());
    // The lease ended at 130 s: a crashed worker's delivery goes out again.
    assert_eq!(ids(&claim(store, secs(131), 10).await), ids(&first));
    assert!(claim(store, secs(200), 10).await.is_empty());
    let d = delivery(store, ep.id, first[0].delivery.id).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 0), "a claim is not a try");
}

/// `record_try` counts the try, ends the lease and records each outcome: delivered, a
/// retry (due at its time, keeping the last answered status through a timeout), given up,
/// and given up on a 410, which turns the endpoint off as `gone`.
pub async fn webhook_record_try_records_each_outcome<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    let gone = endpoint("https://gone.example.com/", &["auth.login.failure"], T0);
    add(store, &ep).await;
    add(store, &gone).await;
    let ok = append(store, AuditAction::LoginSuccess, secs(1)).await;
    let flaky = append(store, AuditAction::LoginSuccess, secs(2)).await;
    let doomed = append(store, AuditAction::LoginFailure, secs(3)).await;
    let claimed = claim(store, secs(10), 10).await;
    assert_eq!(claimed.len(), 4);
    let lease_of = |webhook: WebhookId, audit: i64| {
        claimed
            .iter()
            .find(|d| d.delivery.webhook_id == webhook && d.delivery.audit_id == Some(audit))
            .expect("claimed")
            .lease
    };
    let (ok_l, flaky_l, doomed_l, gone_l) =
        (lease_of(ep.id, ok), lease_of(ep.id, flaky), lease_of(ep.id, doomed), lease_of(gone.id, doomed));
    let (ok_id, flaky_id, doomed_id, gone_id) = (ok_l.id, flaky_l.id, doomed_l.id, gone_l.id);

    store.record_try(&ok_l, TryOutcome::Delivered { status: 204 }, secs(11)).await.expect("record_try");
    let d = delivery(store, ep.id, ok_id).await;
    assert_eq!(
        (d.status, d.attempts, d.last_status_code, d.last_error),
        (DeliveryStatus::Delivered, 1, Some(204), None)
    );
    assert_eq!((d.next_attempt_at, d.delivered_at, d.created_at), (None, Some(secs(11)), secs(1)));

    let retry = TryOutcome::Retry { status: Some(503), error: "answered 503".to_owned(), next_attempt_at: secs(30) };
    store.record_try(&flaky_l, retry, secs(12)).await.expect("record_try");
    let d = delivery(store, ep.id, flaky_id).await;
    assert_eq!((d.status, d.attempts, d.last_status_code), (DeliveryStatus::Pending, 1, Some(503)));
    assert_eq!(
        (d.last_error.as_deref(), d.next_attempt_at, d.delivered_at),
        (Some("answered 503"), Some(secs(30)), None)
    );
    assert!(claim(store, secs(29), 10).await.is_empty(), "not due before its time");
    // Due at 30 s although the claim's lease would have run until 130 s.
    let again = claim(store, secs(30), 10).await;
    assert_eq!(ids(&again), vec![flaky_id]);
    assert_eq!(again[0].delivery.attempts, 1);
    let timeout = TryOutcome::Retry { status: None, error: "timed out".to_owned(), next_attempt_at: secs(330) };
    // The try of the first claim is over: its lease no longer records anything.
    let stale = TryOutcome::Delivered { status: 200 };
    assert!(!store.record_try(&flaky_l, stale, secs(31)).await.expect("record_try"), "a stale lease records nothing");
    assert!(store.record_try(&again[0].lease, timeout, secs(31)).await.expect("record_try"));
    let d = delivery(store, ep.id, flaky_id).await;
    assert_eq!((d.attempts, d.last_status_code, d.last_error.as_deref()), (2, Some(503), Some("timed out")));
    assert_eq!(d.next_attempt_at, Some(secs(330)));

    store.record_try(&doomed_l, give_up(500), secs(13)).await.expect("record_try");
    let d = delivery(store, ep.id, doomed_id).await;
    assert_eq!((d.status, d.attempts, d.last_status_code), (DeliveryStatus::Failed, 1, Some(500)));
    assert_eq!((d.last_error.as_deref(), d.next_attempt_at, d.delivered_at), (Some("answered 500"), None, None));
    assert!(read(store, ep.id).await.enabled, "an ordinary failure leaves the endpoint on");

    let gone_outcome = TryOutcome::GiveUp { status: Some(410), error: "410 Gone".to_owned(), disable_endpoint: true };
    store.record_try(&gone_l, gone_outcome, secs(14)).await.expect("record_try");
    let d = delivery(store, gone.id, gone_id).await;
    assert_eq!((d.status, d.last_status_code, d.next_attempt_at), (DeliveryStatus::Failed, Some(410), None));
    let turned_off = read(store, gone.id).await;
    assert_eq!((turned_off.enabled, turned_off.disabled_reason.as_deref()), (false, Some("gone")));
    assert_eq!(
        (turned_off.url, turned_off.events, turned_off.secret),
        (gone.url.clone(), gone.events.clone(), gone.secret.clone())
    );

    let later = claim(store, secs(100_000), 10).await;
    assert_eq!(ids(&later), vec![flaky_id], "only the retry is ever claimed again");
    let after = append(store, AuditAction::LoginFailure, secs(100_001)).await;
    assert!(reporting(store, gone.id, after).await.is_empty(), "a gone endpoint is queued nothing");
}

/// `retry_delivery` makes a failed (or delivered) delivery pending and due at the given
/// time, keeping its tries; it names the endpoint, so another endpoint's delivery is `None`.
pub async fn webhook_retry_delivery_makes_a_failed_delivery_pending<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    let other = endpoint("https://other.example.com/", &["user.*"], T0);
    add(store, &ep).await;
    add(store, &other).await;
    append(store, AuditAction::LoginSuccess, secs(1)).await;
    append(store, AuditAction::LoginFailure, secs(2)).await;
    let claimed = claim(store, secs(5), 10).await;
    let (failed, delivered) = (claimed[0].delivery.id, claimed[1].delivery.id);
    store.record_try(&claimed[0].lease, give_up(500), secs(6)).await.expect("record_try");
    store.record_try(&claimed[1].lease, TryOutcome::Delivered { status: 200 }, secs(6)).await.expect("record_try");
    assert!(claim(store, secs(1000), 10).await.is_empty());

    assert_eq!(
        store.retry_delivery(other.id, failed, secs(100), retried_audit()).await.expect("retry"),
        None,
        "another endpoint's"
    );
    assert_eq!(
        store.retry_delivery(ep.id, DeliveryId(i64::MAX), secs(100), retried_audit()).await.expect("retry"),
        None
    );
    let retried =
        store.retry_delivery(ep.id, failed, secs(100), retried_audit()).await.expect("retry").expect("the delivery");
    assert_eq!((retried.id, retried.status, retried.attempts), (failed, DeliveryStatus::Pending, 1));
    assert_eq!((retried.next_attempt_at, retried.last_status_code), (Some(secs(100)), Some(500)));
    assert_eq!(delivery(store, ep.id, failed).await, retried);
    let again =
        store.retry_delivery(ep.id, delivered, secs(100), retried_audit()).await.expect("retry").expect("the delivery");
    assert_eq!((again.status, again.next_attempt_at), (DeliveryStatus::Pending, Some(secs(100))));

    assert!(claim(store, secs(99), 10).await.is_empty());
    let mut due = ids(&claim(store, secs(100), 10).await);
    due.sort();
    let mut expected = vec![failed, delivered];
    expected.sort();
    assert_eq!(due, expected);
    assert_eq!(store.delivery_backlog().await.expect("backlog").failed, 0);
}

/// An endpoint's deliveries page newest first, optionally of one status, with the total of
/// all pages; other endpoints' deliveries are not listed.
pub async fn webhook_deliveries_page_newest_first<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    let other = endpoint("https://other.example.com/", &["auth.*"], T0);
    add(store, &ep).await;
    add(store, &other).await;
    let mut entries = Vec::new();
    for i in 0..5 {
        entries.push(append(store, AuditAction::LoginSuccess, secs(10 + i)).await);
    }
    // Fail the first and the fourth.
    for d in claim(store, secs(100), 100).await {
        if d.delivery.webhook_id == ep.id && [Some(entries[0]), Some(entries[3])].contains(&d.delivery.audit_id) {
            store.record_try(&d.lease, give_up(500), secs(101)).await.expect("record_try");
        }
    }
    let audits = |page: &[WebhookDelivery]| page.iter().map(|d| d.audit_id.expect("an event")).collect::<Vec<_>>();

    let page = store.deliveries(ep.id, None, 2, 0).await.expect("deliveries");
    assert_eq!((audits(&page.items), page.total_count), (vec![entries[4], entries[3]], 5));
    let page = store.deliveries(ep.id, None, 2, 2).await.expect("deliveries");
    assert_eq!((audits(&page.items), page.total_count), (vec![entries[2], entries[1]], 5));
    let page = store.deliveries(ep.id, None, 2, 4).await.expect("deliveries");
    assert_eq!((audits(&page.items), page.total_count), (vec![entries[0]], 5));
    let page = store.deliveries(ep.id, None, 2, 10).await.expect("deliveries");
    assert_eq!((page.items.len(), page.total_count), (0, 5));

    let failed = store.deliveries(ep.id, Some(DeliveryStatus::Failed), 10, 0).await.expect("deliveries");
    assert_eq!((audits(&failed.items), failed.total_count), (vec![entries[3], entries[0]], 2));
    let pending = store.deliveries(ep.id, Some(DeliveryStatus::Pending), 1, 1).await.expect("deliveries");
    assert_eq!((audits(&pending.items), pending.total_count), (vec![entries[2]], 3));
    let delivered = store.deliveries(ep.id, Some(DeliveryStatus::Delivered), 10, 0).await.expect("deliveries");
    assert_eq!((delivered.items.len(), delivered.total_count), (0, 0));
    assert!(failed.items.iter().chain(&pending.items).all(|d| d.webhook_id == ep.id));
    let none = store.deliveries(WebhookId::new_v7(), None, 10, 0).await.expect("deliveries");
    assert_eq!((none.items.len(), none.total_count), (0, 0));
}

/// The backlog counts pending deliveries of enabled endpoints (and when the oldest was
/// queued) and every failed delivery kept.
pub async fn webhook_delivery_backlog_counts<S: Store + WebhookStore>(store: &S) {
    assert_eq!(store.delivery_backlog().await.expect("backlog"), DeliveryBacklog::default());
    let a = endpoint("https://a.example.com/", &["auth.*"], T0);
    let b = endpoint("https://b.example.com/", &["auth.login.success"], T0);
    let off = endpoint("https://off.example.com/", &["auth.*"], T0);
    for ep in [&a, &b, &off] {
        add(store, ep).await;
    }
    append(store, AuditAction::LoginFailure, T0.plus(Duration::from_millis(1_001))).await;
    append(store, AuditAction::LoginSuccess, secs(2)).await;
    let disable = EndpointChanges { enabled: Some(false), ..EndpointChanges::default() };
    store
        .update_endpoint(off.id, disable, secs(3), audit(None, AuditAction::AdminWebhookUpdated, secs(3)))
        .await
        .expect("update");
    let backlog = store.delivery_backlog().await.expect("backlog");
    let oldest = T0.plus(Duration::from_millis(1_001));
    assert_eq!(backlog, DeliveryBacklog { pending: 3, oldest_pending_since: Some(oldest), failed: 0 });

    // Deliver a's oldest, give b's up.
    for d in claim(store, secs(10), 10).await {
        let outcome = if d.delivery.webhook_id == b.id { give_up(500) } else { TryOutcome::Delivered { status: 200 } };
        if d.delivery.webhook_id == b.id || d.delivery.created_at == oldest {
            store.record_try(&d.lease, outcome, secs(11)).await.expect("record_try");
        }
    }
    let backlog = store.delivery_backlog().await.expect("backlog");
    assert_eq!(backlog, DeliveryBacklog { pending: 1, oldest_pending_since: Some(secs(2)), failed: 1 });
}

/// Eight workers claiming ten at a time until nothing is left hand out each of fifty
/// deliveries exactly once.
pub async fn webhook_concurrent_claims_hand_out_each_delivery_once<S: Store + WebhookStore>(store: &S) {
    let a = endpoint("https://a.example.com/", &["auth.*"], T0);
    let b = endpoint("https://b.example.com/", &["auth.login.failure"], T0);
    add(store, &a).await;
    add(store, &b).await;
    // 30 events for a, 20 of which also go to b: 50 deliveries.
    let changes = (0..30)
        .map(|i| {
            let action = if i % 3 == 0 { AuditAction::LoginSuccess } else { AuditAction::LoginFailure };
            Change::AppendAudit(audit(None, action, secs(i)))
        })
        .collect();
    commit_ok(store, changes).await;
    assert_eq!(store.delivery_backlog().await.expect("backlog").pending, 50);

    let now = secs(100);
    // Bounded, so a store whose claims never run dry fails here rather than hangs.
    let workers = (0..8).map(|_| async move {
        let mut mine = Vec::new();
        for _ in 0..20 {
            let got = store.claim_deliveries(now, LEASE, 10, 1_000).await.expect("claim_deliveries");
            if got.is_empty() {
                break;
            }
            mine.extend(ids(&got));
        }
        mine
    });
    let mut counts: HashMap<DeliveryId, usize> = HashMap::new();
    for id in join_all(workers).await.into_iter().flatten() {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "claimed more than once: {twice:?}");
    assert_eq!(counts.len(), 50);
    assert!(claim(store, now, 100).await.is_empty());
}

/// An admin retry of a delivery whose try is in flight leaves the lease alone: nobody else
/// is handed it until that try is recorded, and then it is due at once.
pub async fn webhook_retry_keeps_a_lease_in_force<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    add(store, &ep).await;
    append(store, AuditAction::LoginSuccess, secs(1)).await;
    let claimed = claim(store, secs(5), 10).await;
    assert_eq!(claimed.len(), 1);
    let retried = store.retry_delivery(ep.id, claimed[0].delivery.id, secs(6), retried_audit()).await.expect("retry");
    assert!(retried.is_some());
    assert!(claim(store, secs(7), 10).await.is_empty(), "in flight: not handed out twice");
    let failed = TryOutcome::Retry { status: Some(500), error: "answered 500".to_owned(), next_attempt_at: secs(8) };
    assert!(store.record_try(&claimed[0].lease, failed, secs(8)).await.expect("record_try"));
    assert_eq!(ids(&claim(store, secs(8), 10).await), vec![claimed[0].delivery.id]);
}

/// No endpoint has more than `per_endpoint` deliveries leased at once, counting the leases
/// already in force; other endpoints' come through.
pub async fn webhook_claims_cap_each_endpoint<S: Store + WebhookStore>(store: &S) {
    let slow = endpoint("https://slow.example.com/", &["auth.login.success"], T0);
    let quick = endpoint("https://quick.example.com/", &["auth.login.failure"], T0);
    add(store, &slow).await;
    add(store, &quick).await;
    for i in 0..12 {
        append(store, AuditAction::LoginSuccess, secs(1 + i)).await;
    }
    for i in 0..3 {
        append(store, AuditAction::LoginFailure, secs(20 + i)).await;
    }
    let first = store.claim_deliveries(secs(100), LEASE, 100, 4).await.expect("claim");
    let of = |claimed: &[DueDelivery], id: WebhookId| claimed.iter().filter(|d| d.delivery.webhook_id == id).count();
    assert_eq!(
        (of(&first, slow.id), of(&first, quick.id)),
        (4, 3),
        "the earliest four of the slow one, all of the quick"
    );
    let second = store.claim_deliveries(secs(101), LEASE, 100, 4).await.expect("claim");
    assert!(second.is_empty(), "the slow endpoint holds four leases: no more of it");
    for d in first.iter().filter(|d| d.delivery.webhook_id == slow.id).take(2) {
        store.record_try(&d.lease, TryOutcome::Delivered { status: 200 }, secs(102)).await.expect("record_try");
    }
    let third = store.claim_deliveries(secs(103), LEASE, 100, 4).await.expect("claim");
    assert_eq!(of(&third, slow.id), 2, "two leases ended: two more, never more than four at once");
}

/// `purge_deliveries` deletes deliveries delivered before the given time; pending and
/// failed ones stay, whatever their age.
pub async fn webhook_purge_deletes_old_delivered_deliveries<S: Store + WebhookStore>(store: &S) {
    let ep = endpoint("https://hooks.example.com/", &["auth.*"], T0);
    add(store, &ep).await;
    for i in 0..4 {
        append(store, AuditAction::LoginSuccess, secs(1 + i)).await;
    }
    let claimed = claim(store, secs(10), 10).await;
    assert_eq!(claimed.len(), 4);
    store.record_try(&claimed[0].lease, TryOutcome::Delivered { status: 200 }, secs(11)).await.expect("record");
    store.record_try(&claimed[1].lease, TryOutcome::Delivered { status: 200 }, secs(50)).await.expect("record");
    store.record_try(&claimed[2].lease, give_up(500), secs(11)).await.expect("record");
    assert_eq!(store.purge_deliveries(secs(20)).await.expect("purge"), 1);
    let left: Vec<DeliveryId> = deliveries_of(store, ep.id).await.iter().map(|d| d.id).collect();
    assert!(!left.contains(&claimed[0].delivery.id), "the old delivered one is gone");
    assert_eq!(left.len(), 3, "the recent delivered, the failed and the pending stay");
    assert_eq!(store.purge_deliveries(secs(20)).await.expect("purge"), 0, "idempotent");
}
