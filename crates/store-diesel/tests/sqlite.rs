//! What only the SQLite store has to prove: files and migrations, both runtime flavours,
//! races through a real pool, and faults turning into `Unavailable` instead of hangs.
//! Each test owns a temporary directory, so every database (and its WAL files) is fresh.

use std::path::Path;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use futures_util::future::join_all;
use portcullis_domain::model::{AuditAction, CodePurpose, Roles, StoredCode, User};
use portcullis_domain::ports::{
    Change, CodeRepository, MailOutbox, RateDecision, RateLimiter, RateRule, StoreError, StoreHealth, UnitOfWork,
    UserRepository,
};
use portcullis_store_diesel::{DbConfig, DieselStore, migrate};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{audit, code, mail, user};
use tempfile::TempDir;

fn url(dir: &TempDir, file: &str) -> String {
    format!("sqlite://{}", dir.path().join(file).display())
}

async fn open(url: &str) -> DieselStore {
    DieselStore::connect(&DbConfig::new(url)).await.expect("connect")
}

/// A user with a fresh verification code, committed.
async fn user_with_code(store: &DieselStore) -> (User, StoredCode) {
    let laura = user("laura@example.com", T0);
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    store.commit(vec![Change::InsertUser(laura.clone()), Change::ReplaceCode(c.clone())]).await.expect("commit");
    (laura, c)
}

/// Holds SQLite's write lock from outside the store, as another process would.
fn hold_write_lock(db: &Path) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(db.to_str().expect("utf-8 path")).expect("open");
    conn.batch_execute("BEGIN IMMEDIATE").expect("lock");
    conn
}

fn release_write_lock(mut conn: SqliteConnection) {
    conn.batch_execute("ROLLBACK").expect("unlock");
}

#[tokio::test]
async fn migrations_apply_once_and_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "p.db");
    assert_eq!(migrate(&url).await.unwrap(), 11);
    assert_eq!(migrate(&url).await.unwrap(), 0);
    let laura = user("laura@example.com", T0);
    {
        let store = open(&url).await;
        store.commit(vec![Change::InsertUser(laura.clone())]).await.unwrap();
    }
    let store = open(&url).await;
    assert_eq!(store.user_by_id(laura.id).await.unwrap(), Some(laura));
    assert_eq!(migrate(&url).await.unwrap(), 0);
}

/// Accounts created before roles existed (a row without the column) read as plain users:
/// the migration's default is the JSON the store reads.
#[tokio::test]
async fn accounts_stored_without_roles_read_as_plain_users() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "p.db");
    migrate(&url).await.unwrap();
    let laura = user("laura@example.com", T0);
    let mut conn = SqliteConnection::establish(dir.path().join("p.db").to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO users (id, name, email, password_hash, status, created_at, updated_at)
         VALUES ('{}', 'laura', 'laura@example.com', 'x', 'active', 0, 0)",
        laura.id
    ))
    .unwrap();
    let store = open(&url).await;
    let read = store.user_by_id(laura.id).await.unwrap().expect("user");
    assert_eq!(read.roles, Roles::user());
}

#[tokio::test]
async fn creates_missing_directories_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/deeper/p.db");
    let store = open(&format!("sqlite:{}", db.display())).await;
    store.commit(vec![Change::EnqueueMail(mail("a@example.com", T0))]).await.unwrap();
    assert!(db.is_file());
    // The write-ahead log sits next to the file while connections are open.
    assert!(dir.path().join("nested/deeper/p.db-wal").is_file());
}

#[tokio::test]
async fn accepts_a_plain_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.db");
    let store = open(db.to_str().unwrap()).await;
    store.ping().await.unwrap();
    assert!(db.is_file());
}

#[tokio::test]
async fn refuses_in_memory_databases() {
    let err = DieselStore::connect(&DbConfig::new("sqlite::memory:")).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&url(&dir, "p.db")).await;
    let (laura, c) = user_with_code(&store).await;
    assert_eq!(store.count_code_attempt(c.id, 5).await.unwrap(), Some(1));
    let done = store
        .commit(vec![
            Change::ConsumeCode { id: c.id, at: T0 },
            Change::AppendAudit(audit(Some(laura.id), AuditAction::EmailVerified, T0)),
        ])
        .await
        .unwrap();
    assert_eq!((done.audit_id(0).is_some(), done.audit_id(1).is_some()), (false, true));
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_acquires_on_a_current_thread_runtime_admit_exactly_max() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        DieselStore::connect(&DbConfig { max_connections: 5, ..DbConfig::new(url(&dir, "p.db")) }).await.unwrap();
    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    let results = join_all((0..24).map(|_| store.acquire("ip:81.2.69.142", rules.clone(), T0))).await;
    let allowed = results.iter().filter(|r| matches!(r, Ok(RateDecision::Allowed(_)))).count();
    let limited = results.iter().filter(|r| matches!(r, Ok(RateDecision::Limited { .. }))).count();
    assert_eq!((allowed, limited), (5, 19), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_acquires_admit_exactly_max() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        DieselStore::connect(&DbConfig { max_connections: 5, ..DbConfig::new(url(&dir, "p.db")) }).await.unwrap();
    let rules = vec![RateRule { window: Duration::from_secs(60), max: 5 }];
    let tasks = (0..24).map(|_| {
        let (store, rules) = (store.clone(), rules.clone());
        tokio::spawn(async move { store.acquire("login:laura@example.com", rules, T0).await })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    let allowed = results.iter().filter(|r| matches!(r, RateDecision::Allowed(_))).count();
    assert_eq!(allowed, 5, "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_code_attempts_count_exactly_max() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        DieselStore::connect(&DbConfig { max_connections: 5, ..DbConfig::new(url(&dir, "p.db")) }).await.unwrap();
    let (_, c) = user_with_code(&store).await;
    let tasks = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.count_code_attempt(c.id, 5).await })
    });
    let mut counted: Vec<u32> = join_all(tasks).await.into_iter().filter_map(|r| r.unwrap().unwrap()).collect();
    counted.sort_unstable();
    assert_eq!(counted, vec![1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_consumes_succeed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        DieselStore::connect(&DbConfig { max_connections: 5, ..DbConfig::new(url(&dir, "p.db")) }).await.unwrap();
    let (laura, c) = user_with_code(&store).await;
    let tasks = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .commit(vec![
                    Change::ConsumeCode { id: c.id, at: T0 },
                    Change::MarkEmailVerified { user_id: laura.id, at: T0 },
                ])
                .await
        })
    });
    let results: Vec<_> = join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
}

#[tokio::test]
async fn unopenable_files_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the directory should be.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let err = DieselStore::connect(&DbConfig::new(format!("sqlite:{}/p.db", blocker.display()))).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // A directory where the file should be.
    let err = migrate(dir.path().to_str().unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// The case that matters for actix-web: its workers run current-thread runtimes, on which
/// diesel-async panics if an in-flight SQLite future is dropped.
#[tokio::test(flavor = "current_thread")]
async fn a_locked_database_times_out_as_unavailable_and_the_store_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        DbConfig { max_connections: 3, query_timeout: Duration::from_millis(300), ..DbConfig::new(url(&dir, "p.db")) };
    let store = DieselStore::connect(&cfg).await.unwrap();
    let lock = hold_write_lock(&dir.path().join("p.db"));

    let started = Instant::now();
    let err = store.commit(vec![Change::EnqueueMail(mail("a@example.com", T0))]).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    // A caller that gives up by itself (a client disconnecting) is just as harmless.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        store.commit(vec![Change::EnqueueMail(mail("b@example.com", T0))]),
    )
    .await;
    assert!(gave_up.is_err());
    // The two abandoned writes still wait for the lock on their connections (until SQLite's
    // busy_timeout), but the third is free, and WAL readers are not blocked by a writer.
    let started = Instant::now();
    store.ping().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());

    release_write_lock(lock);
    store.commit(vec![Change::EnqueueMail(mail("c@example.com", T0))]).await.unwrap();
    // The abandoned writes were already waiting for the lock, so they may have gone through.
    let depth = store.outbox_depth().await.unwrap();
    assert!((1..=3).contains(&depth), "{depth}");
}

#[tokio::test]
async fn an_exhausted_pool_times_out_as_unavailable_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DbConfig {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(100),
        ..DbConfig::new(url(&dir, "p.db"))
    };
    let store = DieselStore::connect(&cfg).await.unwrap();
    let lock = hold_write_lock(&dir.path().join("p.db"));
    // The only connection waits for the lock (SQLite's busy_timeout) ...
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.commit(vec![Change::EnqueueMail(mail("a@example.com", T0))]).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ... so nobody else gets one in time, and what they asked for is not done later.
    let err = store.commit(vec![Change::EnqueueMail(mail("b@example.com", T0))]).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    release_write_lock(lock);
    waiting.await.unwrap().unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

#[tokio::test]
async fn busy_past_busy_timeout_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&url(&dir, "p.db")).await;
    let lock = hold_write_lock(&dir.path().join("p.db"));
    // The default query budget (10 s) outlasts busy_timeout (5 s): SQLite itself gives up.
    let err = store.acquire("k", Vec::new(), T0).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(format!("{:?}", err).contains("database is locked"), "{err:?}");
    release_write_lock(lock);
    assert!(matches!(store.acquire("k", Vec::new(), T0).await.unwrap(), RateDecision::Allowed(_)));
}

#[tokio::test]
async fn clones_share_one_pool_and_debug_hides_nothing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&url(&dir, "p.db")).await;
    let other = store.clone();
    let laura = user("laura@example.com", T0);
    store.commit(vec![Change::InsertUser(laura.clone())]).await.unwrap();
    assert_eq!(other.user_by_email(&laura.email).await.unwrap(), Some(laura));
    let text = format!("{store:?}");
    assert!(text.contains("sqlite"), "{text}");
}

#[tokio::test]
async fn pool_status_reports_the_configured_bound_and_no_connection_in_use_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DbConfig { max_connections: 3, ..DbConfig::new(url(&dir, "p.db")) };
    let store = DieselStore::connect(&cfg).await.unwrap();
    store.ping().await.unwrap();
    let status = store.pool_status();
    assert_eq!((status.max, status.in_use, status.waiting), (3, 0, 0), "{status:?}");
    assert!((1..=3).contains(&status.open), "{status:?}");
    assert_eq!(status.idle, status.open, "{status:?}");
}

/// The SQLite linked in keeps the query planner stability guarantee on (`.cargo/config.toml`):
/// otherwise every cached query with a bound `LIMIT` is compiled again on each execution.
#[test]
fn sqlite_is_built_with_the_planner_stability_guarantee() {
    #[derive(diesel::QueryableByName)]
    struct Used {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        used: i32,
    }
    let mut conn = SqliteConnection::establish(":memory:").expect("open");
    let row: Used = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT sqlite_compileoption_used('ENABLE_QPSG') AS used"),
        &mut conn,
    )
    .expect("compile options");
    assert_eq!(row.used, 1, "build with LIBSQLITE3_FLAGS=SQLITE_ENABLE_QPSG");
}

/// A user table that holds nobody: enough to show what `own_users` refuses on SQLite.
struct NoAccounts;

impl portcullis_store_diesel::own_users::PgUserTable for NoAccounts {
    async fn user_by_email(
        &self,
        _: &mut diesel_async::AsyncPgConnection,
        _: &portcullis_domain::model::Email,
    ) -> Result<Option<User>, portcullis_store_diesel::own_users::UserTableError> {
        Ok(None)
    }
    async fn user_by_id(
        &self,
        _: &mut diesel_async::AsyncPgConnection,
        _: portcullis_domain::model::UserId,
    ) -> Result<Option<User>, portcullis_store_diesel::own_users::UserTableError> {
        Ok(None)
    }
    async fn search_users(
        &self,
        _: &mut diesel_async::AsyncPgConnection,
        _: &portcullis_domain::model::UserQuery,
    ) -> Result<portcullis_domain::model::Page<User>, portcullis_store_diesel::own_users::UserTableError> {
        Ok(portcullis_domain::model::Page { items: Vec::new(), total_count: 0 })
    }
    async fn apply(
        &self,
        _: &mut diesel_async::AsyncPgConnection,
        _: &Change,
    ) -> Result<(), portcullis_store_diesel::own_users::UserTableError> {
        Ok(())
    }
}

#[tokio::test]
async fn an_own_user_table_is_refused_on_sqlite_before_anything_runs() {
    use portcullis_store_diesel::own_users::{OwnUsers, UserTableRef, migrate_with_user_table};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("own.db").display());
    let users = UserTableRef::new("accounts", "id").unwrap();
    assert!(matches!(migrate_with_user_table(&url, &users).await, Err(StoreError::Other(_))));
    assert!(!dir.path().join("own.db").exists(), "nothing was migrated");
    let store = DieselStore::connect(&DbConfig::new(url)).await.unwrap();
    assert!(matches!(OwnUsers::new(store, NoAccounts), Err(StoreError::Other(_))));
}
