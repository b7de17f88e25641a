//! Deleted accounts: restorable for `deleted_retention`, then erased by the purge job; an
//! administrator can erase one at once. Erasing frees the address and keeps the audit
//! entries without what identifies the client.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{AuditAction, Roles};
use portcullis_domain::ports::{Clock, UnitOfWork};
use portcullis_domain::{Actor, AdminError, AuthError};
use portcullis_testing::fixtures::PASSWORD;
use serde_json::json;

use crate::support::{audits, ctx, login_ok, register, seed_verified, service, shared_service};

const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

#[tokio::test]
async fn a_deleted_account_is_restorable_until_the_retention_ends_then_erased() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    login_ok(&svc, "laura@example.com").await;
    svc.admin_delete_user(&Actor::Operator, laura.id, &ctx()).await.unwrap();

    h.clock.advance(RETENTION);
    assert_eq!(svc.purge_deleted_accounts().await.unwrap().erased, 0, "exactly the retention: still kept");
    svc.admin_restore_user(&Actor::Operator, laura.id, &ctx()).await.expect("restorable meanwhile");
    h.clock.advance(RETENTION * 2);
    assert_eq!(svc.purge_deleted_accounts().await.unwrap().erased, 0, "a restored account is never erased");

    let deleted_at = h.clock.now();
    svc.admin_delete_user(&Actor::Operator, laura.id, &ctx()).await.unwrap();
    h.clock.advance(RETENTION + Duration::from_millis(1));
    assert_eq!(svc.purge_deleted_accounts().await.unwrap().erased, 1);
    assert_eq!(svc.purge_deleted_accounts().await.unwrap().erased, 0, "idempotent");

    assert!(h.store.user_with_email("laura@example.com").is_none());
    assert!(h.store.notifications().is_empty() && h.store.sessions().is_empty());
    let entries: Vec<_> = h.store.audit_entries().into_iter().filter(|e| e.user_id == Some(laura.id)).collect();
    assert!(entries.len() >= 5, "the account's history stays: {entries:?}");
    assert!(entries.iter().all(|e| e.ip_address.is_none() && e.user_agent.is_none() && e.location.is_none()));
    let purged = audits(&h, "user.account.purged");
    assert_eq!(purged.len(), 1);
    assert_eq!(
        serde_json::Value::Object(purged[0].metadata.clone()),
        json!({"by": "retention", "deleted_at": deleted_at.to_rfc3339()})
    );

    // The address is free: a registration creates a new account and mails it a code.
    register(&svc, &h, "laura@example.com").await;
    let fresh = h.store.user_with_email("laura@example.com").expect("a new account");
    assert_ne!(fresh.id, laura.id);
}

#[tokio::test]
async fn an_administrator_erases_an_account_at_once() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let admin = seed_verified(&h, "admin@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let actor = Actor::User { id: admin.id, roles: Roles::new([portcullis_domain::model::Role::Admin]) };
    let user_only = Actor::User { id: admin.id, roles: Roles::user() };

    assert!(matches!(svc.admin_purge_user(&user_only, laura.id, &ctx()).await, Err(AdminError::Forbidden)));
    assert!(matches!(svc.admin_purge_user(&actor, admin.id, &ctx()).await, Err(AdminError::SelfTarget)));
    let at = svc.admin_purge_user(&actor, laura.id, &ctx()).await.unwrap();

    assert_eq!(at, h.clock.now());
    assert!(h.store.user_with_email("laura@example.com").is_none());
    assert!(matches!(svc.authenticate(&out.access_token).await, Err(AuthError::Unauthorized)), "signed out");
    let entry = audits(&h, "admin.user.purged").pop().expect("audited");
    assert_eq!(entry.user_id, Some(laura.id));
    assert_eq!(entry.metadata["actor_id"], json!(admin.id.to_string()));
    assert_eq!(entry.metadata["was_deleted"], json!(false));
    assert_eq!(entry.ip_address, None, "erased like every entry about the account");
    assert!(matches!(svc.admin_purge_user(&actor, laura.id, &ctx()).await, Err(AdminError::NotFound)));
    assert!(audits(&h, AuditAction::AdminUserDeleted.as_str()).is_empty());
    // The sign-in still fails as for any unknown address.
    let r = svc.login(crate::support::login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    assert!(r.is_err());
}

#[tokio::test]
async fn parallel_purge_jobs_erase_each_account_once() {
    let (svc, h) = shared_service(portcullis_domain::Policy::default());
    let mut ids = Vec::new();
    for n in 0..40 {
        let user = seed_verified(&h, &format!("user{n}@example.com")).await;
        svc.admin_delete_user(&Actor::Operator, user.id, &ctx()).await.unwrap();
        ids.push(user.id);
    }
    h.clock.advance(RETENTION + Duration::from_secs(1));

    let jobs = (0..4).map(|_| {
        let svc = svc.clone();
        tokio::spawn(async move { svc.purge_deleted_accounts().await.unwrap().erased })
    });
    let counts: Vec<u64> = join_all(jobs).await.into_iter().map(Result::unwrap).collect();

    assert_eq!(counts.iter().sum::<u64>(), 40, "{counts:?}");
    let purged = audits(&h, "user.account.purged");
    assert_eq!(purged.len(), 40, "one entry per account");
    for id in ids {
        assert_eq!(purged.iter().filter(|e| e.user_id == Some(id)).count(), 1);
    }
}

#[tokio::test]
async fn an_entry_written_after_the_erasure_by_a_request_in_flight_is_scrubbed_next_round() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    svc.admin_purge_user(&Actor::Operator, laura.id, &ctx()).await.unwrap();
    // A login that read the account before the purge commits its failure entry after it.
    let late = portcullis_testing::fixtures::audit(Some(laura.id), AuditAction::LoginFailure, h.clock.now());
    h.store.commit(vec![portcullis_domain::ports::Change::AppendAudit(late)]).await.unwrap();
    let unscrubbed = || {
        h.store.audit_entries().into_iter().filter(|e| e.user_id == Some(laura.id) && e.ip_address.is_some()).count()
    };
    assert_eq!(unscrubbed(), 1);

    h.clock.advance(Duration::from_secs(600));
    let report = svc.purge_deleted_accounts().await.unwrap();
    assert_eq!((report.erased, report.failed), (0, 0));
    assert_eq!(unscrubbed(), 0, "the next round scrubs it");
}

#[tokio::test]
async fn a_restore_that_read_the_account_before_its_erasure_answers_not_found() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    svc.admin_delete_user(&Actor::Operator, laura.id, &ctx()).await.unwrap();
    let deleted_at = h.store.user_with_email("laura@example.com").unwrap().deleted_at.unwrap();
    svc.admin_purge_user(&Actor::Operator, laura.id, &ctx()).await.unwrap();
    // The restore's guarded write, as it would arrive after reading the deleted account.
    let late = vec![portcullis_domain::ports::Change::RestoreUser { user_id: laura.id, deleted_at, at: h.clock.now() }];
    assert!(matches!(h.store.commit(late).await, Err(portcullis_domain::ports::StoreError::Conflict)));
    assert!(matches!(svc.admin_restore_user(&Actor::Operator, laura.id, &ctx()).await, Err(AdminError::NotFound)));
    assert!(audits(&h, "admin.user.restored").is_empty());
}

#[tokio::test]
async fn erasing_an_account_lifts_the_lockout_of_its_address() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    for _ in 0..5 {
        let r = svc.login(crate::support::login_request("laura@example.com", "wrong guess", false), &ctx()).await;
        assert!(r.is_err());
    }
    svc.admin_purge_user(&Actor::Operator, laura.id, &ctx()).await.unwrap();
    register(&svc, &h, "laura@example.com").await;
    let fresh = h.store.user_with_email("laura@example.com").unwrap();
    assert_ne!(fresh.id, laura.id);
    // Not verified yet (verifying would lift a lockout anyway): the right password reaches
    // the state check instead of the old owner's five failures.
    let r = svc.login(crate::support::login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    assert!(matches!(r, Err(portcullis_domain::LoginError::Blocked(_))), "{r:?}");
}
