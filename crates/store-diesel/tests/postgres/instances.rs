//! Two stores (as two server instances would have) on one database: the counters, single-use
//! codes and the outbox stay race-free across them, on both runtime flavours.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{CeremonyPurpose, SecretDigest};
use portcullis_domain::ports::{
    Change, CodeRepository, FactorRepository, MailOutbox, RateDecision, RateLimiter, RateRule, SessionRepository,
    StoreError, UnitOfWork, UserRepository,
};
use portcullis_store_diesel::test_db::TestDatabase;
use portcullis_store_diesel::{DbConfig, DieselStore};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{ceremony, mail, passkey, session};

use super::user_with_code;

async fn two_instances(db: &TestDatabase) -> [DieselStore; 2] {
    let cfg = DbConfig { max_connections: 4, ..DbConfig::new(db.url()) };
    [DieselStore::connect(&cfg).await.expect("connect"), DieselStore::connect(&cfg).await.expect("connect")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acquires_across_instances_admit_exactly_max() {
    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    let tasks = (0..24).map(|i| {
        let (store, rules) = (stores[i % 2].clone(), rules.clone());
        tokio::spawn(async move { store.acquire("login:laura@example.com", rules, T0).await })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    let allowed = results.iter().filter(|r| matches!(r, RateDecision::Allowed(_))).count();
    assert_eq!(allowed, 5, "{results:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn code_attempts_and_consumes_across_instances_on_a_current_thread_runtime() {
    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    let (laura, c) = user_with_code(&stores[0]).await;
    let tries = join_all((0..16).map(|i| stores[i % 2].count_code_attempt(c.id, 5))).await;
    let mut counted: Vec<u32> = tries.into_iter().filter_map(|r| r.unwrap()).collect();
    counted.sort_unstable();
    assert_eq!(counted, vec![1, 2, 3, 4, 5]);

    let consumes = join_all((0..8).map(|i| {
        stores[i % 2].commit(vec![
            Change::ConsumeCode { id: c.id, at: T0 },
            Change::MarkEmailVerified { user_id: laura.id, at: T0 },
        ])
    }))
    .await;
    assert_eq!(consumes.iter().filter(|r| r.is_ok()).count(), 1, "{consumes:?}");
    assert!(consumes.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{consumes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_across_instances_never_overlap_and_take_everything_due() {
    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    let queued: Vec<_> = (0..40).map(|i| mail(&format!("user{i}@example.com"), T0)).collect();
    stores[0].commit(queued.iter().cloned().map(Change::EnqueueMail).collect()).await.unwrap();
    let lease = Duration::from_secs(120);
    let tasks = (0..8).map(|i| {
        let store = stores[i % 2].clone();
        tokio::spawn(async move { store.claim_mail(T0.plus(Duration::from_secs(1)), lease, 5).await })
    });
    let mut seen = HashSet::new();
    for claimed in join_all(tasks).await {
        for m in claimed.unwrap().unwrap() {
            assert!(seen.insert(m.id), "{:?} claimed twice", m.id);
        }
    }
    // Skipping locked rows never leaves a due message unclaimed for good.
    let rest = stores[1].claim_mail(T0.plus(Duration::from_secs(2)), lease, 100).await.unwrap();
    for m in rest {
        assert!(seen.insert(m.id), "{:?} claimed twice", m.id);
    }
    assert_eq!(seen.len(), queued.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webauthn_ceremony_and_a_passkey_counter_are_used_once_across_instances() {
    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    let digest = SecretDigest::new(vec![4; 32]);
    let started = ceremony(digest.clone(), CeremonyPurpose::SignIn, None, T0);
    stores[0].commit(vec![Change::InsertCeremony(started)]).await.expect("insert");
    let takes = (0..20).map(|i| {
        let (store, digest) = (stores[i % 2].clone(), digest.clone());
        tokio::spawn(async move { store.take_ceremony(digest, T0).await })
    });
    let taken: Vec<_> = join_all(takes).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1, "{taken:?}");

    let (laura, _) = user_with_code(&stores[0]).await;
    let (factor, key) = passkey(&laura, T0, &[3; 32]);
    stores[0].commit(vec![Change::InsertFactor(factor), Change::InsertPasskey(key.clone())]).await.expect("insert");
    let uses = (0..20u32).map(|n| {
        let store = stores[usize::try_from(n).unwrap() % 2].clone();
        let changes = vec![
            Change::UsePasskey {
                factor_id: key.factor_id,
                seen_count: 0,
                sign_count: n + 1,
                credential: key.credential.clone(),
                backed_up: false,
                at: T0,
            },
            Change::InsertSession(session(&laura, T0)),
        ];
        tokio::spawn(async move { store.commit(changes).await })
    });
    let results: Vec<_> = join_all(uses).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
}

/// An enabled endpoint subscribed to every `auth.*` event.
fn auth_endpoint() -> portcullis_domain::model::WebhookEndpoint {
    use portcullis_domain::model::{EventPattern, SealedSecret, WebhookEndpoint, WebhookId, WebhookUrl};
    WebhookEndpoint {
        id: WebhookId::new_v7(),
        url: WebhookUrl::parse("https://receiver.example.com/hook").expect("a url"),
        events: vec![EventPattern::parse("auth.*").expect("a pattern")],
        description: String::new(),
        enabled: true,
        disabled_reason: None,
        secret: SealedSecret(vec![7; 72]),
        previous_secret: None,
        previous_secret_until: None,
        created_at: T0,
        updated_at: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_deliveries_are_claimed_once_across_instances() {
    use portcullis_domain::model::AuditAction;
    use portcullis_domain::ports::WebhookStore;
    use portcullis_testing::fixtures::audit;

    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    let endpoint = auth_endpoint();
    stores[0].insert_endpoint(endpoint, audit(None, AuditAction::AdminWebhookCreated, T0)).await.unwrap();
    // Queued by the audit log itself, from both instances.
    for i in 0..40 {
        stores[i % 2].commit(vec![Change::AppendAudit(audit(None, AuditAction::LoginSuccess, T0))]).await.unwrap();
    }
    let lease = Duration::from_secs(120);
    let now = T0.plus(Duration::from_secs(1));
    let tasks = (0..8).map(|i| {
        let store = stores[i % 2].clone();
        tokio::spawn(async move { store.claim_deliveries(now, lease, 5, 100).await })
    });
    let mut seen = HashSet::new();
    for claimed in join_all(tasks).await {
        for d in claimed.unwrap().unwrap() {
            assert!(seen.insert(d.delivery.id), "{:?} claimed twice", d.delivery.id);
            assert_eq!(d.entry.as_ref().map(|e| e.action.as_str()), Some("auth.login.success"));
        }
    }
    let rest = stores[1].claim_deliveries(now, lease, 100, 100).await.unwrap();
    for d in rest {
        assert!(seen.insert(d.delivery.id), "{:?} claimed twice", d.delivery.id);
    }
    assert_eq!(seen.len(), 40, "every queued delivery claimed exactly once");
    assert!(stores[0].claim_deliveries(now, lease, 100, 100).await.unwrap().is_empty(), "leased ones stay hidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_account_is_erased_once_across_instances_and_a_restored_one_never() {
    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    let at = T0.plus(Duration::from_secs(60));
    let mut accounts = Vec::new();
    for n in 0..10 {
        let user = portcullis_testing::fixtures::user(&format!("user{n}@example.com"), T0);
        stores[0]
            .commit(vec![
                Change::InsertUser(user.clone()),
                Change::InsertSession(session(&user, T0)),
                Change::SetDeleted { user_id: user.id, deleted_at: Some(at), at },
            ])
            .await
            .expect("seed");
        accounts.push(user);
    }
    // Each account: four erasures racing on two instances, and for the last one a restore.
    let erase = |i: usize, user: &portcullis_domain::model::User| {
        let (store, user) = (stores[i % 2].clone(), user.clone());
        tokio::spawn(async move {
            store
                .commit(vec![
                    Change::AppendAudit(portcullis_testing::fixtures::audit(
                        Some(user.id),
                        portcullis_domain::model::AuditAction::AccountPurged,
                        at,
                    )),
                    Change::EraseAccountData { user_id: user.id, email: Some(user.email.clone()) },
                    Change::DeleteUser { user_id: user.id, deleted_at: at },
                ])
                .await
        })
    };
    let restored = accounts[9].clone();
    let restore = {
        let store = stores[1].clone();
        tokio::spawn(async move {
            store.commit(vec![Change::RestoreUser { user_id: restored.id, deleted_at: at, at }]).await
        })
    };
    let tasks: Vec<_> = accounts.iter().flat_map(|u| (0..4).map(move |i| (i, u))).map(|(i, u)| erase(i, u)).collect();
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
    let restore = restore.await.unwrap();
    assert!(matches!(restore, Ok(_) | Err(StoreError::Conflict)), "{restore:?}");

    for (n, chunk) in results.chunks(4).enumerate() {
        assert!(chunk.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{chunk:?}");
        let won = chunk.iter().filter(|r| r.is_ok()).count();
        if n < 9 {
            assert_eq!(won, 1, "account {n}: {chunk:?}");
        } else {
            // Restored first (and kept), or erased first (and the restore refused): never
            // a restore that succeeds on an account that is gone.
            let kept = stores[0].user_by_id(accounts[9].id).await.expect("read");
            assert_eq!(won + usize::from(kept.is_some()), 1, "{chunk:?}");
            assert_eq!(restore.is_ok(), kept.is_some(), "{restore:?}");
        }
    }
    for user in &accounts[..9] {
        assert!(stores[1].user_by_email(&user.email).await.expect("read").is_none());
        assert!(stores[1].all_sessions(user.id).await.expect("read").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_goes_to_one_account_across_instances() {
    use portcullis_domain::model::{AuditAction, AuditQuery};
    use portcullis_domain::ports::AuditRepository;
    use portcullis_testing::fixtures::{audit, email, user};

    let Some(db) = TestDatabase::create().await else { return };
    let stores = two_instances(&db).await;
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let racers: Vec<_> = (0..6).map(|n| user(&format!("racer{round}.{n}@example.com"), T0)).collect();
        stores[0].commit(racers.iter().cloned().map(Change::InsertUser).collect()).await.expect("seed");
        let target = email(&format!("wanted{round}@example.com"));
        let tasks = racers.iter().enumerate().map(|(i, racer)| {
            let (store, racer, target) = (stores[i % 2].clone(), racer.clone(), target.clone());
            tokio::spawn(async move {
                store
                    .commit(vec![
                        Change::ChangeEmail { user_id: racer.id, from: racer.email.clone(), to: target, at: T0 },
                        Change::AppendAudit(audit(Some(racer.id), AuditAction::EmailChanged, T0)),
                    ])
                    .await
            })
        });
        let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
        let winner = results.iter().position(Result::is_ok).unwrap();
        let holder = stores[1].user_by_email(&target).await.expect("read").expect("moved");
        assert_eq!(holder.id, racers[winner].id);
    }
    let query = AuditQuery {
        user_id: None,
        action: Some(AuditAction::EmailChanged),
        from: None,
        to: None,
        limit: 100,
        offset: 0,
    };
    let entries = stores[0].search_audit(query).await.expect("audit").total_count;
    assert_eq!(entries, ROUNDS as u64, "one entry per round");
}
