//! One-time codes: replacement, the newest active code, counted tries, single use.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{AuditAction, CodePurpose};
use portcullis_domain::ports::{Change, Store, StoreError};

use super::{T0, commit_ok, history, insert_user};
use crate::fixtures::{audit, code};

/// A code reads back field for field through `active_code`.
pub async fn active_code_round_trips<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut c = code(&laura, CodePurpose::ResetPassword, "654321", T0);
    c.attempts = 2;
    c.expires_at = T0.plus(Duration::from_millis(900_123));
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    assert_eq!(store.active_code(laura.id, CodePurpose::ResetPassword).await.expect("read"), Some(c));
    assert_eq!(store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read"), None);
}

/// `ReplaceCode` deletes the older unconsumed code: it is no longer active, cannot be
/// tried and cannot be consumed.
pub async fn replace_code_supersedes_unconsumed<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let old = code(&laura, CodePurpose::VerifyEmail, "111111", T0);
    let new = code(&laura, CodePurpose::VerifyEmail, "222222", T0.plus(Duration::from_secs(61)));
    commit_ok(store, vec![Change::ReplaceCode(old.clone())]).await;
    commit_ok(store, vec![Change::ReplaceCode(new.clone())]).await;
    assert_eq!(store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read"), Some(new.clone()));
    assert_eq!(store.count_code_attempt(old.id, 5).await.expect("count"), None);
    let err = store.commit(vec![Change::ConsumeCode { id: old.id, at: T0 }]).await.expect_err("old code consumed");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.count_code_attempt(new.id, 5).await.expect("count"), Some(1));
}

/// Replacement touches only the same user and purpose.
pub async fn replace_code_is_per_user_and_purpose<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let reset = code(&laura, CodePurpose::ResetPassword, "333333", T0);
    let anas = code(&ana, CodePurpose::VerifyEmail, "444444", T0);
    let verify = code(&laura, CodePurpose::VerifyEmail, "555555", T0.plus(Duration::from_secs(1)));
    commit_ok(store, vec![Change::ReplaceCode(reset.clone()), Change::ReplaceCode(anas.clone())]).await;
    commit_ok(store, vec![Change::ReplaceCode(verify.clone())]).await;
    assert_eq!(store.active_code(laura.id, CodePurpose::ResetPassword).await.expect("read"), Some(reset));
    assert_eq!(store.active_code(ana.id, CodePurpose::VerifyEmail).await.expect("read"), Some(anas));
    assert_eq!(store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read"), Some(verify));
}

/// `active_code` returns an expired code (the use case tells expired from wrong) but never
/// a consumed one.
pub async fn active_code_returns_expired_not_consumed<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    c.expires_at = T0.minus(Duration::from_secs(1));
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    assert_eq!(store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read"), Some(c.clone()));
    commit_ok(store, vec![Change::ConsumeCode { id: c.id, at: T0 }]).await;
    assert_eq!(store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read"), None);
}

/// `count_code_attempt` counts 1, 2, ... up to `max_attempts`, then answers `None`
/// without counting; the count is stored.
pub async fn count_code_attempt_stops_at_max<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    for n in 1..=5 {
        assert_eq!(store.count_code_attempt(c.id, 5).await.expect("count"), Some(n));
    }
    assert_eq!(store.count_code_attempt(c.id, 5).await.expect("count"), None);
    assert_eq!(store.count_code_attempt(c.id, 5).await.expect("count"), None);
    let stored = store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read").expect("code");
    assert_eq!(stored.attempts, 5);
    // The bound is the caller's, not the row's.
    assert_eq!(store.count_code_attempt(c.id, 6).await.expect("count"), Some(6));
}

/// Absent and consumed codes get `None` and are not changed.
pub async fn count_code_attempt_refuses_consumed_or_absent<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let absent = code(&laura, CodePurpose::VerifyEmail, "000000", T0);
    assert_eq!(store.count_code_attempt(absent.id, 5).await.expect("count"), None);
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    assert_eq!(store.count_code_attempt(c.id, 5).await.expect("count"), Some(1));
    commit_ok(store, vec![Change::ConsumeCode { id: c.id, at: T0 }]).await;
    assert_eq!(store.count_code_attempt(c.id, 5).await.expect("count"), None);
}

/// Sixteen concurrent tries of a five-try code: exactly five are counted, as 1 to 5.
pub async fn count_code_attempt_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    let results = join_all((0..16).map(|_| store.count_code_attempt(c.id, 5))).await;
    let mut counted: Vec<u32> = results.into_iter().filter_map(|r| r.expect("count")).collect();
    counted.sort_unstable();
    assert_eq!(counted, vec![1, 2, 3, 4, 5]);
    let stored = store.active_code(laura.id, CodePurpose::VerifyEmail).await.expect("read").expect("code");
    assert_eq!(stored.attempts, 5);
}

/// `ConsumeCode` works once; the second time, and on an absent code, it is a `Conflict`.
pub async fn consume_code_works_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    commit_ok(store, vec![Change::ConsumeCode { id: c.id, at: T0 }]).await;
    let err = store.commit(vec![Change::ConsumeCode { id: c.id, at: T0 }]).await.expect_err("consumed twice");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let absent = code(&laura, CodePurpose::VerifyEmail, "654321", T0);
    let err = store.commit(vec![Change::ConsumeCode { id: absent.id, at: T0 }]).await.expect_err("absent consumed");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
}

/// Eight concurrent commits consuming one code: exactly one succeeds, and only its audit
/// entry is stored.
pub async fn consume_code_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    commit_ok(store, vec![Change::ReplaceCode(c.clone())]).await;
    let commits = (0..8).map(|_| {
        store.commit(vec![
            Change::ConsumeCode { id: c.id, at: T0 },
            Change::AppendAudit(audit(Some(laura.id), AuditAction::EmailVerified, T0)),
        ])
    });
    let results = join_all(commits).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    assert_eq!(history(store, &laura, &[AuditAction::EmailVerified]).await.total_count, 1);
}

/// `DiscardCodes` uses up every unconsumed code of the user, of every purpose (challenges
/// included): none is active or can be tried afterwards. Another user's codes stay.
pub async fn discard_codes_ends_every_code_of_the_user<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let purposes =
        [CodePurpose::VerifyEmail, CodePurpose::ResetPassword, CodePurpose::SignIn, CodePurpose::ChangeEmail];
    let mut changes: Vec<Change> =
        purposes.iter().map(|p| Change::ReplaceCode(code(&laura, *p, "123456", T0))).collect();
    let challenge = code(&laura, CodePurpose::MfaChallenge, "token", T0);
    changes.push(Change::InsertCode(challenge.clone()));
    let anas = code(&ana, CodePurpose::SignIn, "654321", T0);
    changes.push(Change::ReplaceCode(anas.clone()));
    commit_ok(store, changes).await;

    let at = T0.plus(Duration::from_secs(5));
    commit_ok(store, vec![Change::DiscardCodes { user_id: laura.id, at }]).await;
    for purpose in purposes {
        assert_eq!(store.active_code(laura.id, purpose).await.expect("read"), None, "{purpose:?}");
    }
    assert_eq!(store.count_code_attempt(challenge.id, 5).await.expect("count"), None, "the challenge too");
    let err = store.commit(vec![Change::ConsumeCode { id: challenge.id, at }]).await.expect_err("used up");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.active_code(ana.id, CodePurpose::SignIn).await.expect("read"), Some(anas), "another user's stays");
    // Nothing left to discard is no error.
    commit_ok(store, vec![Change::DiscardCodes { user_id: laura.id, at }]).await;
}
