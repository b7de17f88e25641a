//! The retention policy's writes: `DeleteUser` (guarded) and `EraseAccountData`, and the
//! purge job's read, `deleted_before`.

use std::time::Duration;

use portcullis_domain::model::{
    AuditAction, AuditQuery, CeremonyPurpose, CodePurpose, Device, SecretDigest, User, UserId,
};
use portcullis_domain::ports::{Change, Store, StoreError};

use super::{T0, commit_ok, insert_user};
use crate::fixtures;

const LEASE: Duration = Duration::from_secs(60);

/// Everything a fixture account can hang off it, and an audit entry with a fingerprint and
/// a factor name.
fn belongings(user: &User, credential: &[u8]) -> Vec<Change> {
    let (key, passkey) = fixtures::passkey(user, T0, credential);
    let mut entry = fixtures::audit(Some(user.id), AuditAction::MfaFactorEnrolled, T0);
    entry.fingerprint = Some("fp-123".to_owned());
    entry.metadata.insert("name".to_owned(), "Laura's phone".into());
    entry.metadata.insert("type".to_owned(), "webauthn".into());
    let digest = |n: u8| SecretDigest::new(vec![n; 32]);
    vec![
        Change::InsertSession(fixtures::session(user, T0)),
        Change::ReplaceCode(fixtures::code(user, CodePurpose::ResetPassword, "123456", T0)),
        Change::InsertNotification(fixtures::notification(user, T0)),
        Change::InsertFactor(fixtures::factor(user, T0)),
        Change::InsertFactor(key),
        Change::InsertPasskey(passkey),
        Change::ReplaceRecoveryCodes {
            user_id: user.id,
            digests: vec![digest(credential[0]), digest(credential[0] + 1)],
            at: T0,
        },
        Change::InsertCeremony(fixtures::ceremony(
            digest(credential[0] + 2),
            CeremonyPurpose::SignIn,
            Some(user.id),
            T0,
        )),
        Change::EnqueueMail(fixtures::mail(user.email.as_str(), T0)),
        Change::AppendAudit(entry),
    ]
}

/// What the store still holds about `id`, as counts.
async fn holdings<S: Store>(store: &S, user: &User) -> [usize; 7] {
    let id: UserId = user.id;
    [
        store.all_sessions(id).await.expect("sessions").len(),
        usize::from(store.active_code(id, CodePurpose::ResetPassword).await.expect("code").is_some()),
        store.notifications_page(id, false, 100, 0).await.expect("notifications").items.len(),
        store.factors(id).await.expect("factors").len(),
        store.passkeys(id).await.expect("passkeys").len(),
        store.recovery_codes(id).await.expect("recovery codes").len(),
        usize::from(store.user_by_id(id).await.expect("user").is_some()),
    ]
}

/// `EraseAccountData` with `DeleteUser` removes the account and everything hanging off it
/// (its queued mail included), keeps its audit entries, those appended in the same commit
/// too, without IP, user agent, device, location, fingerprint and the `name` and
/// `fingerprint` metadata members, touches no other account, and frees the address.
pub async fn erasure_keeps_only_scrubbed_audit_entries<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let mut changes = belongings(&laura, b"\x01laura");
    changes.extend(belongings(&ana, b"\x10ana"));
    commit_ok(store, changes).await;
    let at = T0.plus(Duration::from_secs(60));
    commit_ok(store, vec![Change::SetDeleted { user_id: laura.id, deleted_at: Some(at), at }]).await;
    assert_eq!(holdings(store, &laura).await, [1, 1, 1, 2, 1, 2, 1]);

    let purge_entry = fixtures::audit(Some(laura.id), AuditAction::AccountPurged, at);
    commit_ok(
        store,
        vec![
            Change::AppendAudit(purge_entry),
            Change::EraseAccountData { user_id: laura.id, email: Some(laura.email.clone()) },
            Change::DeleteUser { user_id: laura.id, deleted_at: at },
        ],
    )
    .await;

    assert_eq!(holdings(store, &laura).await, [0; 7]);
    let ceremony = SecretDigest::new(vec![3; 32]);
    assert!(store.take_ceremony(ceremony, T0).await.expect("read").is_none(), "its ceremony went too");
    assert!(store.user_by_email(&laura.email).await.expect("read").is_none());
    assert_eq!(holdings(store, &ana).await, [1, 1, 1, 2, 1, 2, 1], "another account is untouched");
    let query =
        |user_id| AuditQuery { user_id: Some(user_id), action: None, from: None, to: None, limit: 100, offset: 0 };
    let kept = store.search_audit(query(laura.id)).await.expect("audit").items;
    assert_eq!(kept.len(), 2, "entries stay under the id");
    for entry in &kept {
        assert_eq!(
            (entry.ip_address, &entry.user_agent, &entry.location, &entry.fingerprint),
            (None, &None, &None, &None)
        );
        assert_eq!(entry.device, Device::default());
        assert!(!entry.metadata.contains_key("name") && !entry.metadata.contains_key("fingerprint"), "{entry:?}");
    }
    assert_eq!(kept[1].metadata.get("type"), Some(&"webauthn".into()), "other members stay");
    let others = store.search_audit(query(ana.id)).await.expect("audit").items;
    assert!(others[0].ip_address.is_some() && others[0].metadata.contains_key("name"));
    let mail = store.claim_mail(at, LEASE, 10).await.expect("claim");
    assert_eq!(mail.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["ana@example.com"]);

    // The address is free for a new account.
    commit_ok(store, vec![Change::InsertUser(fixtures::user("laura@example.com", at))]).await;
}

/// `DeleteUser` deletes only a row deleted at exactly the given time; otherwise the commit
/// fails as a whole with `Conflict`.
pub async fn delete_user_is_guarded_by_deleted_at<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let at = T0.plus(Duration::from_secs(60));
    let attempt = |deleted_at| {
        vec![
            Change::AppendAudit(fixtures::audit(Some(laura.id), AuditAction::AccountPurged, at)),
            Change::DeleteUser { user_id: laura.id, deleted_at },
        ]
    };
    let conflict = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Conflict));
    assert!(conflict(store.commit(attempt(at)).await), "not deleted");
    commit_ok(store, vec![Change::SetDeleted { user_id: laura.id, deleted_at: Some(at), at }]).await;
    assert!(conflict(store.commit(attempt(at.plus(Duration::from_millis(1)))).await), "deleted at another time");
    assert!(
        store
            .search_audit(AuditQuery {
                user_id: Some(laura.id),
                action: None,
                from: None,
                to: None,
                limit: 10,
                offset: 0
            })
            .await
            .expect("audit")
            .items
            .is_empty(),
        "a failed commit appends nothing"
    );
    commit_ok(store, attempt(at)).await;
    assert!(store.user_by_id(laura.id).await.expect("read").is_none());
    assert!(conflict(store.commit(attempt(at)).await), "already gone");
}

/// `deleted_before` lists accounts deleted before the time, longest deleted first, up to
/// the limit; live accounts and later deletions are left out.
pub async fn deleted_before_lists_the_oldest_deletions<S: Store>(store: &S) {
    let mut deleted = Vec::new();
    for (n, secs) in [(1, 30), (2, 10), (3, 20), (4, 40)] {
        let user = insert_user(store, &format!("user{n}@example.com")).await;
        let at = T0.plus(Duration::from_secs(secs));
        commit_ok(store, vec![Change::SetDeleted { user_id: user.id, deleted_at: Some(at), at }]).await;
        deleted.push(user.id);
    }
    insert_user(store, "alive@example.com").await;
    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    let before = T0.plus(Duration::from_secs(40));
    assert_eq!(ids(store.deleted_before(before, 10).await.expect("read")), [deleted[1], deleted[2], deleted[0]]);
    assert_eq!(ids(store.deleted_before(before, 2).await.expect("read")), [deleted[1], deleted[2]]);
    assert!(
        store.deleted_before(T0.plus(Duration::from_secs(10)), 10).await.expect("read").is_empty(),
        "before is exclusive"
    );
}

/// `RestoreUser` clears `deleted_at` only of a row deleted at exactly the given time;
/// otherwise (not deleted, deleted again, erased) the commit fails with `Conflict`.
pub async fn restore_user_is_guarded_by_deleted_at<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let at = T0.plus(Duration::from_secs(60));
    let later = at.plus(Duration::from_secs(1));
    let restore = |deleted_at| vec![Change::RestoreUser { user_id: laura.id, deleted_at, at: later }];
    let conflict = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Conflict));
    assert!(conflict(store.commit(restore(at)).await), "not deleted");
    commit_ok(store, vec![Change::SetDeleted { user_id: laura.id, deleted_at: Some(at), at }]).await;
    assert!(conflict(store.commit(restore(later)).await), "deleted at another time");
    commit_ok(store, restore(at)).await;
    let user = store.user_by_id(laura.id).await.expect("read").expect("kept");
    assert_eq!((user.deleted_at, user.updated_at), (None, later));

    // Deleted and erased in one commit (an administrator's purge of a live account): a
    // restore that read it before finds nothing to restore.
    commit_ok(
        store,
        vec![
            Change::SetDeleted { user_id: laura.id, deleted_at: Some(later), at: later },
            Change::EraseAccountData { user_id: laura.id, email: Some(laura.email.clone()) },
            Change::DeleteUser { user_id: laura.id, deleted_at: later },
        ],
    )
    .await;
    assert!(conflict(store.commit(restore(later)).await), "erased");
    assert!(store.user_by_id(laura.id).await.expect("read").is_none());
}
