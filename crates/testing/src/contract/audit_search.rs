//! The administrators' search over the whole audit log.

use std::time::Duration;

use portcullis_domain::model::{AuditAction, AuditQuery, Timestamp, UserId};
use portcullis_domain::ports::{Change, Store};

use super::{T0, audit_ids, commit_ok, insert_user};
use crate::fixtures::audit;

fn t(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

/// Appends one entry per `(user, action, at)`, in order; returns their ids.
async fn append<S: Store>(store: &S, entries: &[(Option<UserId>, AuditAction, Timestamp)]) -> Vec<i64> {
    let changes = entries.iter().map(|&(user_id, action, at)| Change::AppendAudit(audit(user_id, action, at)));
    audit_ids(&commit_ok(store, changes.collect()).await, entries.len())
}

/// The ids of the first hundred matches of `query` (its paging ignored), and the total.
async fn search<S: Store>(store: &S, query: AuditQuery) -> (Vec<i64>, u64) {
    let page = store.search_audit(AuditQuery { limit: 100, offset: 0, ..query }).await.expect("search_audit");
    (page.items.iter().map(|e| e.id).collect(), page.total_count)
}

/// Without filters: every entry (any user, or none), newest first, ties by id descending.
pub async fn search_audit_lists_the_whole_log_newest_first<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let ids = append(
        store,
        &[
            (Some(laura.id), AuditAction::LoginSuccess, t(5)),
            (None, AuditAction::LoginFailure, t(1)),
            (Some(ana.id), AuditAction::Signup, t(5)),
            (Some(ana.id), AuditAction::AdminRolesChanged, t(9)),
        ],
    )
    .await;
    let expected = vec![ids[3], ids[2], ids[0], ids[1]];
    assert_eq!(search(store, AuditQuery::default()).await, (expected, 4));
}

/// `user_id` and `action` each narrow the log, and together both apply.
pub async fn search_audit_filters_by_user_and_action<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let ids = append(
        store,
        &[
            (Some(laura.id), AuditAction::LoginSuccess, t(1)),
            (Some(ana.id), AuditAction::LoginSuccess, t(2)),
            (Some(laura.id), AuditAction::PasswordChanged, t(3)),
            (None, AuditAction::LoginSuccess, t(4)),
        ],
    )
    .await;
    let by_user = AuditQuery { user_id: Some(laura.id), ..AuditQuery::default() };
    assert_eq!(search(store, by_user.clone()).await, (vec![ids[2], ids[0]], 2));
    let by_action = AuditQuery { action: Some(AuditAction::LoginSuccess), ..AuditQuery::default() };
    assert_eq!(search(store, by_action).await, (vec![ids[3], ids[1], ids[0]], 3));
    let both = AuditQuery { action: Some(AuditAction::PasswordChanged), ..by_user };
    assert_eq!(search(store, both).await, (vec![ids[2]], 1));
    let none =
        AuditQuery { user_id: Some(ana.id), action: Some(AuditAction::PasswordChanged), ..AuditQuery::default() };
    assert_eq!(search(store, none).await, (Vec::new(), 0));
}

/// `from` is inclusive and `to` exclusive, to the millisecond.
pub async fn search_audit_from_is_inclusive_to_exclusive<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ms = |n: u64| T0.plus(Duration::from_millis(n));
    let entries: Vec<_> =
        [999, 1_000, 1_001, 1_999, 2_000].iter().map(|&n| (Some(laura.id), AuditAction::LoginFailure, ms(n))).collect();
    let ids = append(store, &entries).await;
    let range = AuditQuery { from: Some(ms(1_000)), to: Some(ms(2_000)), ..AuditQuery::default() };
    assert_eq!(search(store, range).await, (vec![ids[3], ids[2], ids[1]], 3));
    let from = AuditQuery { from: Some(ms(1_001)), ..AuditQuery::default() };
    assert_eq!(search(store, from).await, (vec![ids[4], ids[3], ids[2]], 3));
    let to = AuditQuery { to: Some(ms(1_000)), ..AuditQuery::default() };
    assert_eq!(search(store, to).await, (vec![ids[0]], 1));
}

/// `limit` and `offset` cut the page; `total_count` counts every match, past the end too.
pub async fn search_audit_paginates_with_total<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let entries: Vec<_> = (0..7u64).map(|i| (Some(laura.id), AuditAction::LoginFailure, t(i))).collect();
    let mut ids = append(store, &entries).await;
    append(store, &[(None, AuditAction::LoginSuccess, t(3))]).await;
    ids.reverse();
    let query = AuditQuery { action: Some(AuditAction::LoginFailure), limit: 3, ..AuditQuery::default() };
    let mut seen = Vec::new();
    for offset in [0u64, 3, 6] {
        let page = store.search_audit(AuditQuery { offset, ..query.clone() }).await.expect("search_audit");
        assert_eq!(page.total_count, 7);
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|e| e.id));
    }
    assert_eq!(seen, ids);
    let past_end = store.search_audit(AuditQuery { offset: 50, ..query }).await.expect("search_audit");
    assert_eq!((past_end.items.len(), past_end.total_count), (0, 7));
}
