//! Users and the all-or-nothing of `commit`.

use std::time::Duration;

use portcullis_domain::model::{AccountStatus, AuditAction, CodePurpose, Email};
use portcullis_domain::ports::{Change, Committed, Store, StoreError};

use super::{T0, commit_ok, history, insert_user};
use crate::fixtures::{self, audit, mail, notification, session, unverified_user, user};

/// A user reads back field for field, by email and by id.
pub async fn insert_and_read_user<S: Store>(store: &S) {
    let mut laura = user("laura@example.com", T0);
    laura.profile_picture = Some("https://cdn.example.com/laura.png".to_owned());
    laura.status = AccountStatus::Suspended;
    laura.updated_at = T0.plus(Duration::from_millis(1_234));
    laura.deleted_at = Some(T0.plus(Duration::from_secs(9)));
    commit_ok(store, vec![Change::InsertUser(laura.clone())]).await;

    let by_email = store.user_by_email(&laura.email).await.expect("user_by_email");
    assert_eq!(by_email.as_ref(), Some(&laura));
    let by_id = store.user_by_id(laura.id).await.expect("user_by_id");
    assert_eq!(by_id.as_ref(), Some(&laura));

    let unverified = unverified_user("ana@example.com", T0);
    commit_ok(store, vec![Change::InsertUser(unverified.clone())]).await;
    assert_eq!(store.user_by_id(unverified.id).await.expect("user_by_id"), Some(unverified));
}

/// Unknown addresses and ids read as `None`, not as an error.
pub async fn missing_user_reads_none<S: Store>(store: &S) {
    insert_user(store, "laura@example.com").await;
    let nobody = fixtures::email("nobody@example.com");
    assert_eq!(store.user_by_email(&nobody).await.expect("user_by_email"), None);
    let stranger = user("stranger@example.com", T0);
    assert_eq!(store.user_by_id(stranger.id).await.expect("user_by_id"), None);
}

/// `InsertUser` on an existing normalised email fails with `DuplicateEmail` and changes
/// nothing.
pub async fn duplicate_email_is_rejected<S: Store>(store: &S) {
    let first = insert_user(store, "laura@example.com").await;
    let mut second = user("laura@example.com", T0.plus(Duration::from_secs(1)));
    second.email = Email::parse("  LAURA@Example.COM ").expect("email");
    let err = store.commit(vec![Change::InsertUser(second.clone())]).await.expect_err("duplicate accepted");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
    assert_eq!(store.user_by_email(&first.email).await.expect("read"), Some(first));
    assert_eq!(store.user_by_id(second.id).await.expect("read"), None);
}

/// The unique email includes soft-deleted accounts, which reads still return.
pub async fn duplicate_email_includes_soft_deleted<S: Store>(store: &S) {
    let mut gone = user("laura@example.com", T0);
    gone.deleted_at = Some(T0.plus(Duration::from_secs(60)));
    commit_ok(store, vec![Change::InsertUser(gone.clone())]).await;
    assert_eq!(store.user_by_email(&gone.email).await.expect("read"), Some(gone.clone()));

    let again = user("laura@example.com", T0.plus(Duration::from_secs(120)));
    let err = store.commit(vec![Change::InsertUser(again)]).await.expect_err("duplicate accepted");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
}

/// A commit failing on its last change leaves no trace of the earlier ones.
pub async fn failed_commit_applies_nothing<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    let changes = vec![
        Change::InsertSession(s.clone()),
        Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
        Change::InsertNotification(notification(&laura, T0)),
        Change::EnqueueMail(mail("laura@example.com", T0)),
        Change::MarkEmailVerified { user_id: laura.id, at: T0.plus(Duration::from_secs(5)) },
        Change::InsertUser(user("laura@example.com", T0)),
    ];
    let err = store.commit(changes).await.expect_err("duplicate accepted");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
    assert_eq!(store.session_with_user(s.id).await.expect("read"), None);
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 0);
    assert_eq!(store.outbox_depth().await.expect("depth"), 0);
    assert_eq!(store.user_by_id(laura.id).await.expect("read"), Some(laura));
}

/// A commit failing in the middle of a run of inserts (which a store may send together)
/// leaves no trace of any of them; audit ids come back in the order of the entries.
pub async fn failed_insert_among_inserts_applies_nothing<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    let changes = vec![
        Change::InsertSession(s.clone()),
        Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
        Change::InsertSession(s.clone()),
        Change::EnqueueMail(mail("laura@example.com", T0)),
    ];
    store.commit(changes).await.expect_err("a second session with the same id accepted");
    assert_eq!(store.session_with_user(s.id).await.expect("read"), None);
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 0);
    assert_eq!(store.outbox_depth().await.expect("depth"), 0);

    let done = commit_ok(
        store,
        vec![
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
            Change::InsertSession(s.clone()),
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginFailure, T0)),
            Change::EnqueueMail(mail("laura@example.com", T0)),
        ],
    )
    .await;
    let ids = [done.audit_id(0).expect("id of change 0"), done.audit_id(2).expect("id of change 2")];
    assert_eq!((done.audit_id(1), done.audit_id(3)), (None, None), "{done:?}");
    assert!(ids[0] < ids[1], "{ids:?}");
    let page = history(store, &laura, &[AuditAction::LoginSuccess, AuditAction::LoginFailure]).await;
    let stored: Vec<i64> = page.items.iter().map(|e| e.id).collect();
    assert!(ids.iter().all(|id| stored.contains(id)), "{ids:?} not in {stored:?}");
}

/// A commit failing with `Conflict` leaves no trace of the earlier changes either.
pub async fn conflict_applies_nothing<S: Store>(store: &S) {
    let ana = unverified_user("ana@example.com", T0);
    commit_ok(store, vec![Change::InsertUser(ana.clone())]).await;
    let code = fixtures::code(&ana, CodePurpose::VerifyEmail, "123456", T0);
    let changes = vec![
        Change::ReplaceCode(code.clone()),
        Change::MarkEmailVerified { user_id: ana.id, at: T0 },
        Change::AppendAudit(audit(Some(ana.id), AuditAction::EmailVerified, T0)),
        Change::ConsumeCode { id: code.id, at: T0 },
        Change::ConsumeCode { id: code.id, at: T0 },
    ];
    let err = store.commit(changes).await.expect_err("double consume accepted");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.user_by_id(ana.id).await.expect("read"), Some(ana.clone()));
    assert_eq!(store.active_code(ana.id, CodePurpose::VerifyEmail).await.expect("read"), None);
    assert_eq!(history(store, &ana, &[AuditAction::EmailVerified]).await.total_count, 0);
}

/// Changes apply in order: rows inserted early in a commit are visible to later changes.
pub async fn changes_apply_in_order<S: Store>(store: &S) {
    let ana = unverified_user("ana@example.com", T0);
    let code = fixtures::code(&ana, CodePurpose::VerifyEmail, "123456", T0);
    let s = session(&ana, T0);
    let alert = portcullis_domain::model::SecretDigest::new(vec![9; 32]);
    let verified_at = T0.plus(Duration::from_secs(30));
    let changes = vec![
        Change::InsertUser(ana.clone()),
        Change::ReplaceCode(code.clone()),
        Change::ConsumeCode { id: code.id, at: verified_at },
        Change::MarkEmailVerified { user_id: ana.id, at: verified_at },
        Change::InsertSession(s.clone()),
        Change::SetAlertToken { session_id: s.id, digest: alert.clone(), expires_at: T0 },
        Change::InsertNotification(notification(&ana, T0)),
        Change::EnqueueMail(mail("ana@example.com", T0)),
    ];
    assert_eq!(commit_ok(store, changes).await, Committed::default());
    let (read, owner) = store.session_with_user(s.id).await.expect("read").expect("session stored");
    assert_eq!(read.alert_token_hash, Some(alert));
    assert_eq!(owner.email_verified_at, Some(verified_at));
    assert_eq!(store.active_code(ana.id, CodePurpose::VerifyEmail).await.expect("read"), None);
    assert_eq!(store.outbox_depth().await.expect("depth"), 1);
}

/// `MarkEmailVerified` sets `email_verified_at` and `updated_at` and nothing else.
pub async fn mark_email_verified_sets_timestamps<S: Store>(store: &S) {
    let ana = unverified_user("ana@example.com", T0);
    commit_ok(store, vec![Change::InsertUser(ana.clone())]).await;
    let at = T0.plus(Duration::from_millis(90_555));
    commit_ok(store, vec![Change::MarkEmailVerified { user_id: ana.id, at }]).await;
    let read = store.user_by_email(&ana.email).await.expect("read").expect("user");
    assert_eq!(read.email_verified_at, Some(at));
    assert_eq!(read.updated_at, at);
    assert_eq!(read.created_at, ana.created_at);
    assert_eq!(read.password_hash, ana.password_hash);
    assert_eq!(read.status, ana.status);
}

/// An empty commit succeeds and returns no ids.
pub async fn empty_commit_is_ok<S: Store>(store: &S) {
    assert_eq!(commit_ok(store, Vec::new()).await, Committed::default());
}
