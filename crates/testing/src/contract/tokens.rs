//! The session tokens: refresh-token rotation with its memory of spent tokens, and the
//! one-time "Not you?" alert token.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{AuditAction, RefreshHit, SecretDigest, Session, Timestamp};
use portcullis_domain::ports::{Change, Store, StoreError};

use super::{T0, commit_ok, history, insert_user};
use crate::fixtures::{audit, session};

/// A 32-byte digest made of `byte`.
fn digest(byte: u8) -> SecretDigest {
    SecretDigest::new(vec![byte; 32])
}

/// Rotation of `s` from `current` to `next` at `at`; the successor names `next`.
fn rotate(s: &Session, current: &SecretDigest, next: &SecretDigest, at: Timestamp) -> Change {
    Change::RotateRefreshToken {
        session_id: s.id,
        current: current.clone(),
        next: next.clone(),
        successor: successor(next),
        at,
    }
}

/// The sealed pair recorded with a rotation to `next` (any text will do for the store).
fn successor(next: &SecretDigest) -> String {
    format!("sealed-pair-{}", next.as_bytes()[0])
}

/// The current token reads as `Current`; after a rotation the new one does, and the old one
/// as `Spent` with its time and successor; a second rotation keeps the first record.
pub async fn rotate_refresh_token_moves_current_to_spent<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(s.clone())]).await;
    let first = s.refresh_token_hash.clone();
    let read = store.session_by_refresh(first.clone()).await.expect("read");
    assert_eq!(read, Some((s.clone(), laura.clone(), RefreshHit::Current)));

    let (t1, t2) = (T0.plus(Duration::from_millis(1_001)), T0.plus(Duration::from_millis(2_002)));
    let (second, third) = (digest(2), digest(3));
    commit_ok(store, vec![rotate(&s, &first, &second, t1)]).await;
    commit_ok(store, vec![rotate(&s, &second, &third, t2)]).await;

    let rotated = Session { refresh_token_hash: third.clone(), ..s };
    let read = store.session_by_refresh(third).await.expect("read");
    assert_eq!(read, Some((rotated.clone(), laura.clone(), RefreshHit::Current)));
    let spent_first = RefreshHit::Spent { spent_at: t1, successor: successor(&second) };
    let read = store.session_by_refresh(first).await.expect("read");
    assert_eq!(read, Some((rotated.clone(), laura.clone(), spent_first)));
    let spent_second = RefreshHit::Spent { spent_at: t2, successor: successor(&digest(3)) };
    assert_eq!(store.session_by_refresh(second).await.expect("read"), Some((rotated, laura, spent_second)));
}

/// A digest that is no refresh token, current or spent, reads as `None` (an alert digest
/// included).
pub async fn session_by_refresh_unknown_reads_none<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    let alert = digest(7);
    let expires_at = T0.plus(Duration::from_secs(600));
    commit_ok(
        store,
        vec![
            Change::InsertSession(s.clone()),
            Change::SetAlertToken { session_id: s.id, digest: alert.clone(), expires_at },
        ],
    )
    .await;
    assert_eq!(store.session_by_refresh(digest(9)).await.expect("read"), None);
    assert_eq!(store.session_by_refresh(alert).await.expect("read"), None);
}

/// Rotating from a digest that is no longer current is a `Conflict`, and the rest of the
/// commit (an audit entry) is not applied either.
pub async fn rotate_with_stale_current_conflicts_and_applies_nothing<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(s.clone())]).await;
    let first = s.refresh_token_hash.clone();
    commit_ok(store, vec![rotate(&s, &first, &digest(2), T0)]).await;

    let late = T0.plus(Duration::from_secs(5));
    let changes = vec![
        Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, late)),
        rotate(&s, &first, &digest(3), late),
    ];
    let err = store.commit(changes).await.expect_err("stale rotation accepted");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 0);
    assert_eq!(store.session_by_refresh(digest(3)).await.expect("read"), None);
    let (read, _, hit) = store.session_by_refresh(digest(2)).await.expect("read").expect("session");
    assert_eq!((read.refresh_token_hash, hit), (digest(2), RefreshHit::Current));
    let spent = RefreshHit::Spent { spent_at: T0, successor: successor(&digest(2)) };
    assert_eq!(store.session_by_refresh(first).await.expect("read").map(|(_, _, hit)| hit), Some(spent));
}

/// A revoked session does not rotate (`Conflict`), but its token still finds it, revoked.
pub async fn rotate_on_revoked_session_conflicts<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    let revoked_at = T0.plus(Duration::from_secs(1));
    commit_ok(
        store,
        vec![Change::InsertSession(s.clone()), Change::RevokeSession { session_id: s.id, at: revoked_at }],
    )
    .await;
    let current = s.refresh_token_hash.clone();
    let err = store.commit(vec![rotate(&s, &current, &digest(2), revoked_at)]).await.expect_err("rotated");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let revoked = Session { revoked_at: Some(revoked_at), ..s };
    assert_eq!(store.session_by_refresh(current).await.expect("read"), Some((revoked, laura, RefreshHit::Current)));
    assert_eq!(store.session_by_refresh(digest(2)).await.expect("read"), None);
}

/// An absent session does not rotate either (`Conflict`).
pub async fn rotate_on_absent_session_conflicts<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ghost = session(&laura, T0);
    let current = ghost.refresh_token_hash.clone();
    let err = store.commit(vec![rotate(&ghost, &current, &digest(2), T0)]).await.expect_err("rotated");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.session_by_refresh(current).await.expect("read"), None);
}

/// Eight concurrent rotations of one current token: exactly one succeeds, the rest
/// conflict, and the store holds the winner's token, successor and audit entry only.
pub async fn rotate_refresh_token_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(s.clone())]).await;
    let current = s.refresh_token_hash.clone();
    let commits = (1..=8u8).map(|n| {
        store.commit(vec![
            rotate(&s, &current, &digest(n), T0),
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
        ])
    });
    let results = join_all(commits).await;
    let winners: Vec<u8> = (1..=8u8).zip(&results).filter(|(_, r)| r.is_ok()).map(|(n, _)| n).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    let winner = digest(winners[0]);
    let (read, _, hit) = store.session_by_refresh(current).await.expect("read").expect("session");
    assert_eq!(read.refresh_token_hash, winner);
    assert_eq!(hit, RefreshHit::Spent { spent_at: T0, successor: successor(&winner) });
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 1);
}

/// `SetAlertToken` stores the digest and its expiry, of that session only.
pub async fn set_alert_token_stores_expiry<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (one, two) = (session(&laura, T0), session(&laura, T0));
    commit_ok(store, vec![Change::InsertSession(one.clone()), Change::InsertSession(two.clone())]).await;
    let expires_at = T0.plus(Duration::from_millis(86_400_123));
    commit_ok(store, vec![Change::SetAlertToken { session_id: one.id, digest: digest(4), expires_at }]).await;
    let (read, _) = store.session_with_user(one.id).await.expect("read").expect("session");
    assert_eq!(read, Session { alert_token_hash: Some(digest(4)), alert_expires_at: Some(expires_at), ..one });
    let (other, _) = store.session_with_user(two.id).await.expect("read").expect("session");
    assert_eq!(other, two);
}

/// `session_by_alert` finds the session (revoked or not) holding the digest, with its owner;
/// an unknown digest (a refresh digest included) reads as `None`.
pub async fn session_by_alert_finds_the_session_and_owner<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (one, two) = (session(&laura, T0), session(&laura, T0));
    let expires_at = T0.plus(Duration::from_secs(600));
    let revoked_at = T0.plus(Duration::from_secs(1));
    commit_ok(
        store,
        vec![
            Change::InsertSession(one.clone()),
            Change::InsertSession(two.clone()),
            Change::SetAlertToken { session_id: one.id, digest: digest(4), expires_at },
            Change::SetAlertToken { session_id: two.id, digest: digest(5), expires_at },
            Change::RevokeSession { session_id: two.id, at: revoked_at },
        ],
    )
    .await;
    let (found, owner) = store.session_by_alert(digest(4)).await.expect("read").expect("session");
    assert_eq!((found.id, found.alert_expires_at, owner), (one.id, Some(expires_at), laura));
    let (found, _) = store.session_by_alert(digest(5)).await.expect("read").expect("session");
    assert_eq!((found.id, found.revoked_at), (two.id, Some(revoked_at)));
    assert_eq!(store.session_by_alert(digest(6)).await.expect("read"), None);
    assert_eq!(store.session_by_alert(one.refresh_token_hash).await.expect("read"), None);
}

/// `ConsumeAlertToken` clears the token and its expiry once; again, or with another digest,
/// it is a `Conflict` that leaves the token as it is.
pub async fn consume_alert_token_works_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (one, two) = (session(&laura, T0), session(&laura, T0));
    let expires_at = T0.plus(Duration::from_secs(600));
    commit_ok(
        store,
        vec![
            Change::InsertSession(one.clone()),
            Change::InsertSession(two.clone()),
            Change::SetAlertToken { session_id: one.id, digest: digest(4), expires_at },
            Change::SetAlertToken { session_id: two.id, digest: digest(5), expires_at },
        ],
    )
    .await;
    let consume = |session_id, d| Change::ConsumeAlertToken { session_id, digest: d };
    commit_ok(store, vec![consume(one.id, digest(4))]).await;
    let (read, _) = store.session_with_user(one.id).await.expect("read").expect("session");
    assert_eq!(read, one);
    assert_eq!(store.session_by_alert(digest(4)).await.expect("read"), None);

    let err = store.commit(vec![consume(one.id, digest(4))]).await.expect_err("consumed twice");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let err = store.commit(vec![consume(two.id, digest(4))]).await.expect_err("wrong digest consumed");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let (read, _) = store.session_with_user(two.id).await.expect("read").expect("session");
    assert_eq!((read.alert_token_hash, read.alert_expires_at), (Some(digest(5)), Some(expires_at)));
}

/// Eight concurrent commits consuming one alert token: exactly one succeeds, and only its
/// audit entry is stored.
pub async fn consume_alert_token_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let s = session(&laura, T0);
    let expires_at = T0.plus(Duration::from_secs(600));
    commit_ok(
        store,
        vec![
            Change::InsertSession(s.clone()),
            Change::SetAlertToken { session_id: s.id, digest: digest(4), expires_at },
        ],
    )
    .await;
    let commits = (0..8).map(|_| {
        store.commit(vec![
            Change::ConsumeAlertToken { session_id: s.id, digest: digest(4) },
            Change::AppendAudit(audit(Some(laura.id), AuditAction::SessionRevoked, T0)),
        ])
    });
    let results = join_all(commits).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    assert_eq!(history(store, &laura, &[AuditAction::SessionRevoked]).await.total_count, 1);
}

/// `purge_ended_sessions` deletes sessions that expired or were revoked before the cutoff,
/// with their spent refresh tokens, and keeps live ones and those that ended at or after it.
pub async fn purge_ended_sessions_keeps_live_and_recent_ones<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let day = Duration::from_secs(24 * 3600);
    let cutoff = T0.plus(day * 3);
    let expired_long_ago = session(&laura, T0); // expires T0 + 1 day
    let revoked_long_ago = Session { expires_at: T0.plus(day * 30), ..session(&laura, T0) };
    let revoked_at_cutoff = Session { expires_at: T0.plus(day * 30), ..session(&laura, T0) };
    let expires_at_cutoff = Session { expires_at: cutoff, ..session(&laura, T0) };
    let live = Session { expires_at: T0.plus(day * 30), ..session(&laura, T0) };
    let all = [&expired_long_ago, &revoked_long_ago, &revoked_at_cutoff, &expires_at_cutoff, &live];
    commit_ok(store, all.iter().map(|s| Change::InsertSession((*s).clone())).collect()).await;
    let spent = expired_long_ago.refresh_token_hash.clone();
    commit_ok(
        store,
        vec![
            rotate(&expired_long_ago, &spent, &digest(40), T0.plus(Duration::from_secs(60))),
            Change::RevokeSession { session_id: revoked_long_ago.id, at: T0.plus(day) },
            Change::RevokeSession { session_id: revoked_at_cutoff.id, at: cutoff },
        ],
    )
    .await;

    assert_eq!(store.purge_ended_sessions(cutoff).await.expect("purge"), 2);

    for gone in [&expired_long_ago, &revoked_long_ago] {
        assert_eq!(store.session_with_user(gone.id).await.expect("read"), None);
    }
    assert_eq!(store.session_by_refresh(spent).await.expect("read"), None, "spent tokens go with the session");
    assert_eq!(store.session_by_refresh(digest(40)).await.expect("read"), None);
    for kept in [&revoked_at_cutoff, &expires_at_cutoff, &live] {
        assert!(store.session_with_user(kept.id).await.expect("read").is_some(), "{:?}", kept.id);
    }
    assert_eq!(store.purge_ended_sessions(cutoff).await.expect("purge"), 0);
}
