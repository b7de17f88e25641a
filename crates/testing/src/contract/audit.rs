//! The audit log: increasing ids, faithful storage, and the history query.

use std::time::Duration;

use portcullis_domain::model::{AuditAction, AuditEntry, Device, Location, Timestamp, User};
use portcullis_domain::ports::{Change, Store};
use serde_json::json;

use super::{T0, audit_ids, commit_ok, history, insert_user};
use crate::fixtures::{audit, ip, notification};

const BOTH: [AuditAction; 2] = [AuditAction::LoginSuccess, AuditAction::LoginFailure];

/// Appended entries get positive ids that increase within a commit and across commits,
/// each found by the index of the change that appended it; other changes have no id.
pub async fn audit_ids_increase<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let first = commit_ok(
        store,
        vec![
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginFailure, T0)),
            Change::InsertNotification(notification(&laura, T0)),
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
        ],
    )
    .await;
    let (failure, success) = (first.audit_id(0).expect("id of change 0"), first.audit_id(2).expect("id of change 2"));
    assert_eq!(first.audit_id(1), None, "a notification appends no entry");
    assert!(failure > 0 && failure < success, "{first:?}");
    let second = commit_ok(store, vec![Change::AppendAudit(audit(None, AuditAction::Signup, T0))]).await;
    let signup = second.audit_id(0).expect("id of change 0");
    assert!(signup > success, "{second:?} after {first:?}");
    let page = history(store, &laura, &BOTH).await;
    let ids: Vec<i64> = page.items.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![success, failure]);
}

/// An entry reads back with its action name, IP, user agent, device, location,
/// fingerprint, metadata and time.
pub async fn audit_round_trips_enrichment<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let at = T0.plus(Duration::from_millis(777));
    let mut rich = audit(Some(laura.id), AuditAction::LoginSuccess, at);
    rich.fingerprint = Some("abc123xyz".to_owned());
    rich.metadata.insert("method".to_owned(), json!("client_reported"));
    rich.metadata.insert("remember_me".to_owned(), json!(true));
    rich.metadata.insert("nested".to_owned(), json!({"list": [1, 2.5, null], "text": "ü"}));
    let mut bare = audit(Some(laura.id), AuditAction::LoginFailure, at.minus(Duration::from_secs(1)));
    bare.enrichment.ip_address = ip("2001:db8::1");
    bare.enrichment.user_agent = None;
    bare.enrichment.device = Device { os: Some("iOS".to_owned()), ..Device::default() };
    bare.enrichment.location = Some(Location { timezone: Some("Asia/Tokyo".to_owned()), ..Location::default() });
    let done = commit_ok(store, vec![Change::AppendAudit(rich.clone()), Change::AppendAudit(bare.clone())]).await;
    let ids = audit_ids(&done, 2);

    let page = history(store, &laura, &BOTH).await;
    let expected: Vec<AuditEntry> = [(ids[0], rich), (ids[1], bare)]
        .into_iter()
        .map(|(id, e)| AuditEntry {
            id,
            user_id: e.user_id,
            action: e.action.as_str().to_owned(),
            ip_address: Some(e.enrichment.ip_address),
            user_agent: e.enrichment.user_agent,
            device: e.enrichment.device,
            location: e.enrichment.location,
            fingerprint: e.fingerprint,
            metadata: e.metadata,
            created_at: e.created_at,
        })
        .collect();
    assert_eq!(page.items, expected);
    assert_eq!(page.total_count, 2);
}

/// Newest first; entries with the same time by id, descending.
pub async fn audit_page_newest_first_ties_by_id<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let t = |s: u64| T0.plus(Duration::from_secs(s));
    // Appended out of time order, with two ties.
    let times = [t(5), t(1), t(5), t(9), t(1)];
    let changes = times.iter().map(|&at| Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginFailure, at)));
    let ids = audit_ids(&commit_ok(store, changes.collect()).await, times.len());
    let page = history(store, &laura, &BOTH).await;
    let got: Vec<(Timestamp, i64)> = page.items.iter().map(|e| (e.created_at, e.id)).collect();
    let expected = vec![(t(9), ids[3]), (t(5), ids[2]), (t(5), ids[0]), (t(1), ids[4]), (t(1), ids[1])];
    assert_eq!(got, expected);
}

/// Only the requested actions are returned and counted.
pub async fn audit_page_filters_by_action<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let actions = [
        AuditAction::LoginSuccess,
        AuditAction::LoginFailure,
        AuditAction::Signup,
        AuditAction::EmailVerified,
        AuditAction::Registered,
        AuditAction::LoginFailure,
    ];
    let changes = actions
        .iter()
        .enumerate()
        .map(|(i, &a)| Change::AppendAudit(audit(Some(laura.id), a, T0.plus(Duration::from_secs(i as u64)))));
    commit_ok(store, changes.collect()).await;

    let (all, total) = action_names(store, &laura, &BOTH).await;
    assert_eq!(all, ["auth.login.failure", "auth.login.failure", "auth.login.success"].map(String::from));
    assert_eq!(total, 3);
    let (failures, total) = action_names(store, &laura, &[AuditAction::LoginFailure]).await;
    assert_eq!(failures, ["auth.login.failure", "auth.login.failure"].map(String::from));
    assert_eq!(total, 2);
    let (successes, total) = action_names(store, &laura, &[AuditAction::LoginSuccess]).await;
    assert_eq!((successes.len(), total), (1, 1));
    let (signups, total) = action_names(store, &laura, &[AuditAction::Signup, AuditAction::EmailVerified]).await;
    assert_eq!(signups, ["auth.email.verified", "auth.signup"].map(String::from));
    assert_eq!(total, 2);
}

async fn action_names<S: Store>(store: &S, user: &User, actions: &[AuditAction]) -> (Vec<String>, u64) {
    let page = history(store, user, actions).await;
    (page.items.into_iter().map(|e| e.action).collect(), page.total_count)
}

/// `limit` and `offset` cut the page; `total_count` counts every match.
pub async fn audit_page_paginates_with_total<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let changes = (0..7u64).map(|i| {
        Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginFailure, T0.plus(Duration::from_secs(i))))
    });
    let ids = audit_ids(&commit_ok(store, changes.collect()).await, 7);
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    let mut seen = Vec::new();
    for offset in [0u64, 3, 6] {
        let page = store.audit_page(laura.id, BOTH.to_vec(), 3, offset).await.expect("audit_page");
        assert_eq!(page.total_count, 7);
        seen.extend(page.items.iter().map(|e| e.id));
    }
    assert_eq!(seen, newest_first);
    let past_end = store.audit_page(laura.id, BOTH.to_vec(), 3, 50).await.expect("audit_page");
    assert!(past_end.items.is_empty());
    assert_eq!(past_end.total_count, 7);
}

/// Another user's entries, and entries without a user, never show up or count.
pub async fn audit_page_excludes_other_users<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    commit_ok(
        store,
        vec![
            Change::AppendAudit(audit(Some(ana.id), AuditAction::LoginSuccess, T0)),
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginFailure, T0)),
            Change::AppendAudit(audit(None, AuditAction::LoginFailure, T0)),
            Change::AppendAudit(audit(Some(ana.id), AuditAction::LoginFailure, T0)),
        ],
    )
    .await;
    let page = history(store, &laura, &BOTH).await;
    assert_eq!(page.total_count, 1);
    assert!(page.items.iter().all(|e| e.user_id == Some(laura.id)));
    assert_eq!(history(store, &ana, &BOTH).await.total_count, 2);
}
