//! The store contract suite: one `pub async fn <case>(store: &S) where S: Store` per rule of
//! `portcullis_domain::ports` (mostly the `MUST` sentences of its docs), plus round trips.
//!
//! Every case expects a fresh, empty store and uses explicit [`Timestamp`]s only (no sleeps,
//! no wall clock). Concurrency cases race calls on one store with `join_all`, so a store
//! whose calls really wait on I/O sees them in flight together.
//!
//! Run all of them with [`crate::store_contract_tests!`], whose maker hands each case a
//! [`Fixture`] (the store, plus whatever must outlive it) or `None` to skip:
//! ```text
//! portcullis_testing::store_contract_tests!(async { Some(Fixture::new(make_fresh_store().await)) });
//! ```
//!
//! A store that also implements `WebhookStore` runs the `webhook_*` cases with
//! [`crate::webhook_store_contract_tests!`], the same way.

mod account;
mod audit;
mod audit_search;
mod codes;
mod email_change;
mod erasure;
mod factors;
mod fixture;
mod macros;
mod notifications;
mod outbox;
mod passkeys;
mod password_attempts;
mod rate;
mod sessions;
mod tokens;
mod user_changes;
mod user_search;
mod users;
mod webhooks;

pub use account::*;
pub use audit::*;
pub use audit_search::*;
pub use codes::*;
pub use email_change::*;
pub use erasure::*;
pub use factors::*;
pub use fixture::Fixture;
pub use notifications::*;
pub use outbox::*;
pub use passkeys::*;
pub use password_attempts::*;
pub use rate::*;
pub use sessions::*;
pub use tokens::*;
pub use user_changes::*;
pub use user_search::*;
pub use users::*;
pub use webhooks::*;

use portcullis_domain::model::{AuditAction, AuditEntry, Page, Timestamp, User};
use portcullis_domain::ports::{Change, Committed, Store};

use crate::fixtures;

/// The instant every case starts from.
pub const T0: Timestamp = crate::fakes::T0;

/// Commits and expects success.
async fn commit_ok<S: Store>(store: &S, changes: Vec<Change>) -> Committed {
    match store.commit(changes).await {
        Ok(done) => done,
        Err(e) => panic!("commit failed: {e:?}"),
    }
}

/// The ids of the entries appended by changes `0..count`, each of which appended one.
fn audit_ids(done: &Committed, count: usize) -> Vec<i64> {
    (0..count).map(|index| done.audit_id(index).expect("every change appended an entry")).collect()
}

/// Inserts an active, verified fixture user.
async fn insert_user<S: Store>(store: &S, address: &str) -> User {
    let user = fixtures::user(address, T0);
    commit_ok(store, vec![Change::InsertUser(user.clone())]).await;
    user
}

/// The first hundred entries of `user` with these actions.
async fn history<S: Store>(store: &S, user: &User, actions: &[AuditAction]) -> Page<AuditEntry> {
    store.audit_page(user.id, actions.to_vec(), 100, 0).await.expect("audit_page")
}
