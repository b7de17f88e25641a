//! Roles, and the one-field user changes of the password and administration flows.

use std::time::Duration;

use portcullis_domain::model::{AccountStatus, Role, Roles, User};
use portcullis_domain::ports::{Change, Store};

use super::{T0, commit_ok, insert_user};
use crate::fakes::FastHasher;
use crate::fixtures::user;

/// The instant of the change under test.
const AT: Duration = Duration::from_millis(61_001);

/// Applies one change at `T0 + AT` and returns the user as stored afterwards.
async fn change_and_read<S: Store>(store: &S, user: &User, change: Change) -> User {
    commit_ok(store, vec![change]).await;
    store.user_by_id(user.id).await.expect("read").expect("user")
}

/// Roles read back as inserted: `admin` with `user`, and plain `user`.
pub async fn insert_user_round_trips_roles<S: Store>(store: &S) {
    let admin = User { roles: Roles::new([Role::Admin]), ..user("root@example.com", T0) };
    let plain = user("laura@example.com", T0);
    commit_ok(store, vec![Change::InsertUser(admin.clone()), Change::InsertUser(plain.clone())]).await;
    let read = store.user_by_id(admin.id).await.expect("read").expect("user");
    assert_eq!(read.roles.names(), ["admin", "user"]);
    assert_eq!(read, admin);
    let read = store.user_by_email(&plain.email).await.expect("read").expect("user");
    assert_eq!(read.roles, Roles::user());
}

/// `SetRoles` replaces the roles and `updated_at` only, of that user only.
pub async fn set_roles_changes_only_roles<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let at = T0.plus(AT);
    let admin = Roles::new([Role::Admin]);
    let read = change_and_read(store, &laura, Change::SetRoles { user_id: laura.id, roles: admin.clone(), at }).await;
    assert_eq!(read, User { roles: admin, updated_at: at, ..laura.clone() });
    let later = at.plus(AT);
    let read =
        change_and_read(store, &laura, Change::SetRoles { user_id: laura.id, roles: Roles::user(), at: later }).await;
    assert_eq!(read, User { updated_at: later, ..laura });
    assert_eq!(store.user_by_id(ana.id).await.expect("read"), Some(ana));
}

/// `SetStatus` replaces the status and `updated_at` only, of that user only.
pub async fn set_status_changes_only_status<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let at = T0.plus(AT);
    for status in [AccountStatus::Suspended, AccountStatus::Deactivated, AccountStatus::Active] {
        let read = change_and_read(store, &laura, Change::SetStatus { user_id: laura.id, status, at }).await;
        assert_eq!(read, User { status, updated_at: at, ..laura.clone() });
    }
    assert_eq!(store.user_by_id(ana.id).await.expect("read"), Some(ana));
}

/// `SetDeleted` with `Some` soft-deletes (the row stays readable), with `None` restores;
/// both set `updated_at` and nothing else.
pub async fn set_deleted_soft_deletes_and_restores<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let at = T0.plus(AT);
    let change = Change::SetDeleted { user_id: laura.id, deleted_at: Some(at), at };
    let read = change_and_read(store, &laura, change).await;
    assert_eq!(read, User { deleted_at: Some(at), updated_at: at, ..laura.clone() });
    let later = at.plus(AT);
    let read =
        change_and_read(store, &laura, Change::SetDeleted { user_id: laura.id, deleted_at: None, at: later }).await;
    assert_eq!(read, User { updated_at: later, ..laura });
    assert_eq!(store.user_by_id(ana.id).await.expect("read"), Some(ana));
}

/// `SetPassword` replaces the hash and `updated_at` only, of that user only.
pub async fn set_password_changes_only_the_hash<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let at = T0.plus(AT);
    let hash = FastHasher::hash_of("a brand new passphrase");
    let read = change_and_read(store, &laura, Change::SetPassword { user_id: laura.id, hash: hash.clone(), at }).await;
    assert_ne!(read.password_hash, laura.password_hash);
    assert_eq!(read, User { password_hash: hash, updated_at: at, ..laura });
    assert_eq!(store.user_by_id(ana.id).await.expect("read"), Some(ana));
}

/// `RehashPassword` replaces the hash only while it is still the one the login verified: a
/// password changed in between stays changed, and the commit still succeeds.
pub async fn rehash_password_applies_only_over_the_previous_hash<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let at = T0.plus(AT);
    let rehashed = FastHasher::hash_of("rehashed form of the same password");
    let change = |previous| Change::RehashPassword { user_id: laura.id, previous, hash: rehashed.clone(), at };
    let changed = FastHasher::hash_of("a password changed meanwhile");
    commit_ok(store, vec![Change::SetPassword { user_id: laura.id, hash: changed.clone(), at }]).await;
    commit_ok(store, vec![change(laura.password_hash.clone())]).await;
    let read = store.user_by_id(laura.id).await.expect("read").expect("user");
    assert_eq!(read.password_hash, changed, "a stale rehash must not undo a password change");
    commit_ok(store, vec![change(changed.clone())]).await;
    let read = store.user_by_id(laura.id).await.expect("read").expect("user");
    assert_eq!(read.password_hash, rehashed);
}

/// The user changes on an absent user commit as no-ops: no error, no row, no other user touched.
pub async fn user_changes_skip_absent_users<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ghost = user("ghost@example.com", T0);
    let at = T0.plus(AT);
    commit_ok(
        store,
        vec![
            Change::SetRoles { user_id: ghost.id, roles: Roles::new([Role::Admin]), at },
            Change::SetStatus { user_id: ghost.id, status: AccountStatus::Suspended, at },
            Change::SetDeleted { user_id: ghost.id, deleted_at: Some(at), at },
            Change::SetPassword { user_id: ghost.id, hash: FastHasher::hash_of("whatever it is"), at },
        ],
    )
    .await;
    assert_eq!(store.user_by_id(ghost.id).await.expect("read"), None);
    assert_eq!(store.user_by_email(&ghost.email).await.expect("read"), None);
    assert_eq!(store.user_by_id(laura.id).await.expect("read"), Some(laura));
}
