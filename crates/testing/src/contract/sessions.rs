//! Sessions and their owners in one lookup; the health probe.

use std::time::Duration;

use portcullis_domain::model::{Aal, AuthMethod, Device, Location, SecretDigest, Session, SessionId};
use portcullis_domain::ports::{Change, Store};

use super::{T0, commit_ok, insert_user};
use crate::fixtures::{ip, session, user};

/// A session reads back field for field (IPv4 and IPv6, device, location, revocation,
/// expiry, both digests, the alert expiry) together with its owner.
pub async fn session_with_user_round_trips<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut full = session(&laura, T0);
    full.alert_token_hash = Some(SecretDigest::new(vec![1, 2, 3, 255]));
    full.alert_expires_at = Some(T0.plus(Duration::from_millis(86_400_999)));
    full.remember_me = true;
    full.last_seen_at = T0.plus(Duration::from_millis(5_001));
    full.expires_at = T0.plus(Duration::from_secs(30 * 24 * 3600));
    full.revoked_at = Some(T0.plus(Duration::from_millis(60_007)));
    full.aal = Aal::Two;
    full.amr = vec![AuthMethod::Password, AuthMethod::Totp];

    let mut bare = session(&laura, T0.plus(Duration::from_secs(1)));
    bare.ip_address = Some(ip("2001:db8::8a2e:370:7334"));
    bare.user_agent = None;
    bare.device = Device::default();
    bare.location = None;

    let mut partial = session(&laura, T0.plus(Duration::from_secs(2)));
    partial.ip_address = None;
    partial.device = Device { browser: Some("Chrome".to_owned()), ..Device::default() };
    partial.location = Some(Location { country_code: Some("DE".to_owned()), ..Location::default() });

    commit_ok(
        store,
        vec![
            Change::InsertSession(full.clone()),
            Change::InsertSession(bare.clone()),
            Change::InsertSession(partial.clone()),
        ],
    )
    .await;
    for expected in [full, bare, partial] {
        let read = store.session_with_user(expected.id).await.expect("read");
        assert_eq!(read, Some((expected, laura.clone())));
    }
}

/// An unknown session reads as `None`.
pub async fn missing_session_reads_none<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    commit_ok(store, vec![Change::InsertSession(session(&laura, T0))]).await;
    assert_eq!(store.session_with_user(SessionId::new_v7()).await.expect("read"), None);
}

/// The owner comes back as it is now, soft-deleted or not.
pub async fn session_with_user_returns_current_owner<S: Store>(store: &S) {
    let mut ana = user("ana@example.com", T0);
    ana.email_verified_at = None;
    ana.deleted_at = Some(T0.plus(Duration::from_secs(3)));
    let s = session(&ana, T0);
    commit_ok(store, vec![Change::InsertUser(ana.clone()), Change::InsertSession(s.clone())]).await;
    let at = T0.plus(Duration::from_secs(10));
    commit_ok(store, vec![Change::MarkEmailVerified { user_id: ana.id, at }]).await;
    let (_, owner) = store.session_with_user(s.id).await.expect("read").expect("session");
    assert_eq!(owner.email_verified_at, Some(at));
    assert_eq!(owner.deleted_at, ana.deleted_at);
}

/// `SetAlertToken` replaces the alert digest of that session only.
pub async fn set_alert_token_replaces_digest<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut one = session(&laura, T0);
    one.alert_token_hash = Some(SecretDigest::new(vec![1; 32]));
    let two = session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(one.clone()), Change::InsertSession(two.clone())]).await;
    let digest = SecretDigest::new(vec![2; 32]);
    commit_ok(store, vec![Change::SetAlertToken { session_id: one.id, digest: digest.clone(), expires_at: T0 }]).await;
    let (read, _) = store.session_with_user(one.id).await.expect("read").expect("session");
    assert_eq!(read.alert_token_hash, Some(digest));
    assert_eq!(read.refresh_token_hash, one.refresh_token_hash);
    let (other, _) = store.session_with_user(two.id).await.expect("read").expect("session");
    assert_eq!(other.alert_token_hash, None);
}

/// `RevokeSession` sets `revoked_at` of a live session; revoking it again keeps the first
/// time; other sessions are untouched; an absent session is a no-op, not an error.
pub async fn revoke_session_sets_revoked_at_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let one = session(&laura, T0);
    let two = session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(one.clone()), Change::InsertSession(two.clone())]).await;

    let first = T0.plus(Duration::from_millis(60_001));
    commit_ok(store, vec![Change::RevokeSession { session_id: one.id, at: first }]).await;
    let later = T0.plus(Duration::from_secs(120));
    commit_ok(store, vec![Change::RevokeSession { session_id: one.id, at: later }]).await;
    commit_ok(store, vec![Change::RevokeSession { session_id: SessionId::new_v7(), at: later }]).await;

    let (revoked, owner) = store.session_with_user(one.id).await.expect("read").expect("session");
    assert_eq!(revoked, Session { revoked_at: Some(first), ..one });
    assert_eq!(owner, laura);
    let (other, _) = store.session_with_user(two.id).await.expect("read").expect("session");
    assert_eq!(other, two);
}

/// `RevokeUserSessions` revokes every live session of the user except `except`, keeps the
/// first time of those already revoked, and touches no other user's; without `except` it
/// takes them all; for a user without sessions it is a no-op.
pub async fn revoke_user_sessions_spares_except_and_other_users<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let early = T0.plus(Duration::from_secs(1));
    let (one, kept, gone, theirs) = (session(&laura, T0), session(&laura, T0), session(&laura, T0), session(&ana, T0));
    let all = [&one, &kept, &gone, &theirs];
    let mut changes: Vec<Change> = all.iter().map(|s| Change::InsertSession((*s).clone())).collect();
    changes.push(Change::RevokeSession { session_id: gone.id, at: early });
    commit_ok(store, changes).await;

    let at = T0.plus(Duration::from_secs(60));
    commit_ok(store, vec![Change::RevokeUserSessions { user_id: laura.id, except: Some(kept.id), at }]).await;
    let revoked_at =
        |id: SessionId| async move { store.session_with_user(id).await.expect("read").expect("session").0.revoked_at };
    assert_eq!(revoked_at(one.id).await, Some(at));
    assert_eq!(revoked_at(kept.id).await, None);
    assert_eq!(revoked_at(gone.id).await, Some(early));
    assert_eq!(revoked_at(theirs.id).await, None);

    let later = T0.plus(Duration::from_secs(120));
    let stranger = user("stranger@example.com", T0);
    commit_ok(
        store,
        vec![
            Change::RevokeUserSessions { user_id: laura.id, except: None, at: later },
            Change::RevokeUserSessions { user_id: stranger.id, except: None, at: later },
        ],
    )
    .await;
    assert_eq!(revoked_at(one.id).await, Some(at));
    assert_eq!(revoked_at(kept.id).await, Some(later));
    assert_eq!(revoked_at(theirs.id).await, None);
}

/// `ping` succeeds on a reachable store.
pub async fn ping_answers<S: Store>(store: &S) {
    store.ping().await.expect("ping");
}
