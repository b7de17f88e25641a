//! The store contract suite against `InMemoryStore`, plus what only the in-memory store
//! promises (ids from 1, the unavailable switches).

use portcullis_domain::model::AuditAction;
use portcullis_domain::ports::{Change, MailOutbox, RateLimiter, StoreError, StoreHealth, UnitOfWork, UserRepository};
use portcullis_testing::InMemoryStore;
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{self, audit, user};

mod contract {
    use portcullis_testing::InMemoryStore;
    use portcullis_testing::contract::Fixture;

    portcullis_testing::store_contract_tests!(async { Some(Fixture::new(InMemoryStore::new())) });
}

mod webhook_contract {
    use portcullis_testing::InMemoryStore;
    use portcullis_testing::contract::Fixture;

    portcullis_testing::webhook_store_contract_tests!(async { Some(Fixture::new(InMemoryStore::new())) });
}

#[tokio::test]
async fn audit_ids_start_at_one() {
    let store = InMemoryStore::new();
    let done = store.commit(vec![Change::AppendAudit(audit(None, AuditAction::Signup, T0)); 3]).await.unwrap();
    assert_eq!([done.audit_id(0), done.audit_id(1), done.audit_id(2)], [Some(1), Some(2), Some(3)]);
}

#[tokio::test]
async fn unavailable_switch_fails_every_call() {
    let store = InMemoryStore::new();
    store.set_unavailable(true);
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.user_by_email(&fixtures::email("a@example.com")).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.acquire("k", Vec::new(), T0).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.outbox_depth().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.commit(Vec::new()).await, Err(StoreError::Unavailable(_))));
    store.set_unavailable(false);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn commits_unavailable_switch_fails_only_commits() {
    let store = InMemoryStore::new();
    store.set_commits_unavailable(true);
    let laura = user("laura@example.com", T0);
    assert!(matches!(store.commit(vec![Change::InsertUser(laura.clone())]).await, Err(StoreError::Unavailable(_))));
    assert_eq!(store.user_by_id(laura.id).await.unwrap(), None);
    store.ping().await.unwrap();
    store.set_commits_unavailable(false);
    store.commit(vec![Change::InsertUser(laura.clone())]).await.unwrap();
    assert_eq!(store.users(), vec![laura]);
}

#[tokio::test]
async fn foreign_keys_are_enforced_like_sql() {
    let store = InMemoryStore::new();
    let ghost = user("ghost@example.com", T0);
    let err = store.commit(vec![Change::InsertSession(fixtures::session(&ghost, T0))]).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert!(store.sessions().is_empty());
}

#[tokio::test]
async fn clones_share_data() {
    let store = InMemoryStore::new();
    let handle = store.clone();
    store.commit(vec![Change::EnqueueMail(fixtures::mail("a@example.com", T0))]).await.unwrap();
    assert_eq!(handle.queued_mail().len(), 1);
    assert_eq!(handle.mail_to("A@example.com").len(), 1);
}
