//! Faults: every operation answers `Unavailable` within its budgets while the server is down
//! or unreachable, or while a statement overruns; afterwards the same store works again.
//! These run on a current-thread runtime, as actix-web's workers do.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use portcullis_domain::model::{AuditAction, CodeId, CodePurpose, MailId, SessionId, UserId};
use portcullis_domain::ports::{
    AuditRepository, Change, CodeRepository, MailOutbox, Permit, RateDecision, RateLimiter, RateRule,
    SessionRepository, StoreError, StoreHealth, UnitOfWork, UserRepository,
};
use portcullis_store_diesel::test_db::TestDatabase;
use portcullis_store_diesel::{DbConfig, DieselStore, migrate};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{email, mail, user};

use super::proxy::{Mode, Proxy};

const ACQUIRE: Duration = Duration::from_millis(500);
const QUERY: Duration = Duration::from_millis(1_000);
/// The longest any call may take: both budgets plus scheduling slack.
const WORST: Duration = Duration::from_millis(3_000);

/// The server behind `url` (host and port).
fn upstream(url: &str) -> SocketAddr {
    let config: tokio_postgres::Config = url.parse().expect("test database URL");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("the proxy test needs a TCP host, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let mut addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).expect("resolve the server");
    addrs.next().expect("an address for the server")
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let start = url.find("://").expect("a URL") + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
    format!("{}{}{addr}{}", &url[..start], &rest[..host_start], &rest[authority_end..])
}

async fn expect_unavailable<T: std::fmt::Debug>(what: &str, call: impl Future<Output = Result<T, StoreError>>) {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{what}: {result:?}");
    assert!(took < WORST, "{what} took {took:?}");
}

/// Every port operation once.
async fn every_operation_is_unavailable(store: &DieselStore) {
    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    let laura = user("laura@example.com", T0);
    expect_unavailable("ping", store.ping()).await;
    expect_unavailable("commit", store.commit(vec![Change::InsertUser(laura.clone())])).await;
    expect_unavailable("user_by_email", store.user_by_email(&email("laura@example.com"))).await;
    expect_unavailable("user_by_id", store.user_by_id(UserId::new_v7())).await;
    expect_unavailable("active_code", store.active_code(laura.id, CodePurpose::VerifyEmail)).await;
    expect_unavailable("count_code_attempt", store.count_code_attempt(CodeId::new_v7(), 5)).await;
    expect_unavailable("session_with_user", store.session_with_user(SessionId::new_v7())).await;
    expect_unavailable("audit_page", store.audit_page(laura.id, vec![AuditAction::LoginSuccess], 10, 0)).await;
    expect_unavailable("acquire", store.acquire("k", rules, T0)).await;
    expect_unavailable("release", store.release(Permit(1))).await;
    expect_unavailable("purge_rate_events", store.purge_rate_events(T0)).await;
    expect_unavailable("claim_mail", store.claim_mail(T0, Duration::from_secs(60), 10)).await;
    expect_unavailable("mail_sent", store.mail_sent(MailId::new_v7())).await;
    expect_unavailable("mail_failed", store.mail_failed(MailId::new_v7(), T0)).await;
    expect_unavailable("outbox_depth", store.outbox_depth()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn server_down_or_stalled_is_unavailable_within_budgets_and_the_store_recovers() {
    let Some(db) = TestDatabase::create().await else { return };
    migrate(db.url()).await.unwrap();
    let proxy = Proxy::start(upstream(db.url())).await;
    let cfg = DbConfig {
        max_connections: 4,
        acquire_timeout: ACQUIRE,
        query_timeout: QUERY,
        ..DbConfig::new(through(db.url(), proxy.addr()))
    };
    let store = DieselStore::connect(&cfg).await.unwrap();
    store.commit(vec![Change::EnqueueMail(mail("a@example.com", T0))]).await.unwrap();

    // The server goes away: live connections are cut, new ones refused.
    proxy.set(Mode::Refuse);
    every_operation_is_unavailable(&store).await;

    // Back, then the network stalls under open connections and new ones alike.
    proxy.set(Mode::Forward);
    store.ping().await.unwrap();
    proxy.set(Mode::Stall);
    every_operation_is_unavailable(&store).await;

    // Back again: the same store works, on fresh connections.
    proxy.set(Mode::Forward);
    store.ping().await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    store.commit(vec![Change::EnqueueMail(mail("b@example.com", T0))]).await.unwrap();
    assert_eq!(store.claim_mail(T0, Duration::from_secs(60), 10).await.unwrap().len(), 2);
}

/// How many statements of the store wait on a lock on the server.
async fn statements_waiting_on_a_lock(url: &str) -> usize {
    let mut conn = AsyncPgConnection::establish(url).await.expect("connect to read pg_stat_activity");
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1",
    )
    .bind::<Text, _>("%portcullis_rate_acquire%")
    .execute(&mut conn)
    .await
    .expect("read pg_stat_activity")
}

/// Waits (up to 5 s, well past the query budget) for the server to stop running the statement
/// the store gave up on.
async fn no_statement_left_waiting(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while statements_waiting_on_a_lock(url).await > 0 {
        assert!(Instant::now() < deadline, "the timed-out statement still waits on the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_statement_over_budget_is_unavailable_and_cancelled_on_the_server() {
    let Some(db) = TestDatabase::create().await else { return };
    let cfg = DbConfig { max_connections: 2, query_timeout: QUERY, ..DbConfig::new(db.url()) };
    let store = DieselStore::connect(&cfg).await.unwrap();
    // Another instance holds the rate-limit key's lock, as if stuck mid-transaction.
    let mut holder = AsyncPgConnection::establish(db.url()).await.unwrap();
    holder.batch_execute("SELECT pg_advisory_lock(hashtextextended('ip:81.2.69.142', 0))").await.unwrap();

    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    expect_unavailable("acquire", store.acquire("ip:81.2.69.142", rules.clone(), T0)).await;
    // The abandoned statement does not keep waiting on the server.
    no_statement_left_waiting(db.url()).await;

    holder.batch_execute("SELECT pg_advisory_unlock_all()").await.unwrap();
    let decision = store.acquire("ip:81.2.69.142", rules, T0).await.unwrap();
    assert!(matches!(decision, RateDecision::Allowed(_)), "{decision:?}");
}

/// The cancel request travels on a new connection; when none can be opened, the session's own
/// `statement_timeout` still ends the statement, instead of it waiting for as long as the lock
/// is held (a backend waiting on a lock does not notice that its client went away).
#[tokio::test(flavor = "current_thread")]
async fn a_statement_whose_cancel_cannot_reach_the_server_is_ended_by_the_server() {
    let Some(db) = TestDatabase::create().await else { return };
    let proxy = Proxy::start(upstream(db.url())).await;
    let cfg = DbConfig { max_connections: 2, query_timeout: QUERY, ..DbConfig::new(through(db.url(), proxy.addr())) };
    let store = DieselStore::connect(&cfg).await.unwrap();
    store.ping().await.unwrap();
    let mut holder = AsyncPgConnection::establish(db.url()).await.unwrap();
    holder.batch_execute("SELECT pg_advisory_lock(hashtextextended('ip:81.2.69.142', 0))").await.unwrap();

    proxy.set(Mode::RefuseNew);
    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    let acquire = tokio::spawn({
        let (store, rules) = (store.clone(), rules.clone());
        async move { expect_unavailable("acquire", store.acquire("ip:81.2.69.142", rules, T0)).await }
    });
    // The statement reached the server on the live connection (so there is something to end).
    let deadline = Instant::now() + Duration::from_secs(5);
    while statements_waiting_on_a_lock(db.url()).await == 0 {
        assert!(Instant::now() < deadline, "the acquire never waited on the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acquire.await.unwrap();
    // The lock is still held, so only the server's budget can end the wait.
    no_statement_left_waiting(db.url()).await;

    proxy.set(Mode::Forward);
    holder.batch_execute("SELECT pg_advisory_unlock_all()").await.unwrap();
    let decision = store.acquire("ip:81.2.69.142", rules, T0).await.unwrap();
    assert!(matches!(decision, RateDecision::Allowed(_)), "{decision:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_terminated_mid_statement_is_unavailable_and_replaced() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = DieselStore::connect(&DbConfig::new(db.url())).await.unwrap();
    let mut admin = AsyncPgConnection::establish(db.url()).await.unwrap();
    admin.batch_execute("SELECT pg_advisory_lock(hashtextextended('k', 0))").await.unwrap();
    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    let waiting = tokio::spawn({
        let (store, rules) = (store.clone(), rules.clone());
        async move { store.acquire("k", rules, T0).await }
    });

    // An administrator (or a server shutdown) ends the store's session: SQLSTATE 57P01.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let terminated = diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1",
        )
        .bind::<Text, _>("%portcullis_rate_acquire%")
        .execute(&mut admin)
        .await
        .unwrap();
        if terminated > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the acquire never waited on the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let result = waiting.await.unwrap();
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");

    admin.batch_execute("SELECT pg_advisory_unlock_all()").await.unwrap();
    assert!(matches!(store.acquire("k", rules, T0).await.unwrap(), RateDecision::Allowed(_)));
}
