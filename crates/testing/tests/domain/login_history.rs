//! GET /auth/login-history: the caller's own logins, newest first.

use std::time::Duration;

use portcullis_domain::HistoryQuery;
use portcullis_domain::model::{AuditAction, HistoryFilter};
use portcullis_domain::ports::{Change, UnitOfWork};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::audit;

use crate::support::{login_ok, seed_verified, service};

#[tokio::test]
async fn own_entries_newest_first_filtered() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let at = |s: u64| T0.plus(Duration::from_secs(s));
    let entries = [
        audit(Some(laura.id), AuditAction::LoginFailure, at(1)),
        audit(Some(laura.id), AuditAction::LoginSuccess, at(2)),
        audit(Some(laura.id), AuditAction::EmailVerified, at(3)),
        audit(Some(ana.id), AuditAction::LoginSuccess, at(4)),
        audit(Some(laura.id), AuditAction::Signup, at(5)),
        audit(Some(laura.id), AuditAction::LoginSuccess, at(2)),
    ];
    let done = h.store.commit(entries.into_iter().map(Change::AppendAudit).collect()).await.unwrap();
    let ids: Vec<i64> = (0..6).map(|change| done.audit_id(change).unwrap()).collect();

    let page =
        svc.login_history(laura.id, HistoryQuery { filter: HistoryFilter::All, limit: 50, offset: 0 }).await.unwrap();
    assert_eq!(page.total_count, 3);
    assert_eq!(page.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[5], ids[1], ids[0]]);
    let page = svc
        .login_history(laura.id, HistoryQuery { filter: HistoryFilter::Success, limit: 50, offset: 0 })
        .await
        .unwrap();
    assert_eq!(page.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[5], ids[1]]);
    let page = svc
        .login_history(laura.id, HistoryQuery { filter: HistoryFilter::Failure, limit: 50, offset: 0 })
        .await
        .unwrap();
    assert_eq!((page.total_count, page.items[0].id), (1, ids[0]));
    let page =
        svc.login_history(laura.id, HistoryQuery { filter: HistoryFilter::All, limit: 1, offset: 1 }).await.unwrap();
    assert_eq!((page.total_count, page.items.len(), page.items[0].id), (3, 1, ids[1]));
    let page =
        svc.login_history(ana.id, HistoryQuery { filter: HistoryFilter::All, limit: 50, offset: 0 }).await.unwrap();
    assert_eq!((page.total_count, page.items[0].id), (1, ids[3]));
}

#[tokio::test]
async fn real_logins_show_up_with_their_metadata() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let _ = svc.login(crate::support::login_request("laura@example.com", "wrong", false), &crate::support::ctx()).await;
    h.clock.advance(Duration::from_secs(1));
    login_ok(&svc, "laura@example.com").await;
    let page =
        svc.login_history(laura.id, HistoryQuery { filter: HistoryFilter::All, limit: 50, offset: 0 }).await.unwrap();
    let actions: Vec<&str> = page.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["auth.login.success", "auth.login.failure"]);
    assert_eq!(page.items[0].metadata["method"], "password");
    assert_eq!(page.items[1].metadata["reason"], "invalid_password");
}

#[tokio::test]
async fn limit_is_clamped_to_one_through_a_hundred() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let changes = (0..105u64).map(|i| {
        Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginFailure, T0.plus(Duration::from_secs(i))))
    });
    h.store.commit(changes.collect()).await.unwrap();
    let page = svc
        .login_history(laura.id, HistoryQuery { filter: HistoryFilter::All, limit: 1_000, offset: 0 })
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.total_count), (100, 105));
    let page =
        svc.login_history(laura.id, HistoryQuery { filter: HistoryFilter::All, limit: 0, offset: 0 }).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].created_at, T0.plus(Duration::from_secs(104)));
}

#[tokio::test]
async fn a_store_failure_is_an_error() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    h.store.set_unavailable(true);
    assert!(
        svc.login_history(laura.id, HistoryQuery { filter: HistoryFilter::All, limit: 50, offset: 0 }).await.is_err()
    );
}
