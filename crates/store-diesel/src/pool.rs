//! The connection pools (one enum arm per backend), the macros that run one diesel DSL body
//! on whichever arm is configured, and start-up: directory creation, migrations, pool setup.
//!
//! Everything SQLite-specific is here: the per-connection pragmas, `BEGIN IMMEDIATE`, and
//! migrations on a sync connection. The PostgreSQL arm (`AsyncPgConnection`) adds one
//! [`DbPool`] variant and one match arm in each macro; the query bodies in the port modules
//! are plain diesel DSL and compile for both.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, PoolError, RecyclingMethod};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use portcullis_domain::ports::{StoreError, StoreHealth};
use tokio::sync::oneshot;

use crate::config::{DbConfig, Target};
use crate::error::DbError;

/// A SQLite connection driven from async code through tokio's blocking pool.
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Per-connection setup. `busy_timeout` comes first: otherwise setting the journal mode on a
/// new connection fails with "database is locked" while another connection writes.
const SQLITE_PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// One pool per supported backend.
#[derive(Clone)]
pub(crate) enum DbPool {
    /// SQLite file.
    Sqlite(Pool<SqliteConn>),
}

/// The two budgets every operation runs under.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) acquire: Duration,
    pub(crate) query: Duration,
}

/// Every store port of `portcullis_domain::ports` on diesel-async. Cloning is cheap: the pool
/// is reference-counted inside.
#[derive(Clone)]
pub struct DieselStore {
    pub(crate) pool: DbPool,
    pub(crate) timeouts: Timeouts,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (backend, status) = match &self.pool {
            DbPool::Sqlite(p) => ("sqlite", p.status()),
        };
        f.debug_struct("DieselStore")
            .field("backend", &backend)
            .field("pool_size", &status.size)
            .field("pool_max", &status.max_size)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl DieselStore {
    /// Runs pending migrations, then opens the pool.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be opened or created (or stays locked);
    /// `Other` for an unusable URL or a failing migration.
    pub async fn connect(cfg: &DbConfig) -> Result<Self, StoreError> {
        let timeouts = Timeouts { acquire: cfg.acquire_timeout, query: cfg.query_timeout };
        match Target::parse(&cfg.url)? {
            Target::Sqlite(path) => {
                run_sqlite_migrations(path.clone()).await?;
                let pool = sqlite_pool(&path, cfg.max_connections, cfg.acquire_timeout)?;
                Ok(Self { pool: DbPool::Sqlite(pool), timeouts })
            }
        }
    }
}

/// Applies the embedded migrations that `url`'s database lacks; returns how many ran.
///
/// # Errors
/// As [`DieselStore::connect`].
pub async fn migrate(url: &str) -> Result<usize, StoreError> {
    match Target::parse(url)? {
        Target::Sqlite(path) => Ok(run_sqlite_migrations(path).await?),
    }
}

/// Creates the directory and file, switches the file to WAL and migrates, on a plain sync
/// connection in the blocking pool: diesel-async's `AsyncMigrationHarness` uses
/// `block_in_place`, which panics on the current-thread runtimes actix-web runs.
async fn run_sqlite_migrations(path: PathBuf) -> Result<usize, DbError> {
    tokio::task::spawn_blocking(move || -> Result<usize, DbError> {
        create_parent(&path)?;
        let mut conn = SqliteConnection::establish(path_str(&path)?).map_err(DbError::Connect)?;
        conn.batch_execute(SQLITE_PRAGMAS)?;
        let applied = conn.run_pending_migrations(SQLITE_MIGRATIONS).map_err(DbError::Migration)?.len();
        if applied > 0 {
            tracing::info!(applied, path = %path.display(), "applied database migrations");
        }
        Ok(applied)
    })
    .await?
}

fn create_parent(path: &Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Directory { path: dir.to_path_buf(), source })
        }
        _ => Ok(()),
    }
}

fn path_str(path: &Path) -> Result<&str, DbError> {
    path.to_str().ok_or_else(|| DbError::Config(format!("database path {path:?} is not UTF-8")))
}

fn sqlite_pool(path: &Path, max_connections: usize, wait: Duration) -> Result<Pool<SqliteConn>, DbError> {
    let mut cfg = ManagerConfig::<SqliteConn>::default();
    // A local file has no connection to lose, so skip the per-checkout `SELECT 1` (a blocking
    // round trip); open transactions are still detected and such connections dropped.
    cfg.recycling_method = RecyclingMethod::Fast;
    cfg.custom_setup = Box::new(|url| {
        let url = url.to_owned();
        async move {
            let mut conn = SqliteConn::establish(&url).await?;
            conn.batch_execute(SQLITE_PRAGMAS).await.map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path_str(path)?, cfg);
    Pool::builder(manager)
        .max_size(max_connections.max(1))
        // Only the wait for a free slot is bounded: a timeout around creating a connection
        // would cancel a `SyncConnectionWrapper` future (see `run_detached`).
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .build()
        .map_err(|e| DbError::Pool(Box::new(e)))
}

/// Pins an async block's output type so `?` inside it knows which error to convert into.
pub(crate) fn typed<T, F: Future<Output = Result<T, DbError>>>(f: F) -> F {
    f
}

/// The task's side of [`run_detached`]: tells the caller a connection is in hand.
pub(crate) struct Gate {
    started: Option<oneshot::Sender<()>>,
}

impl Gate {
    /// Call once a connection is checked out. Fails when the caller has stopped waiting, so
    /// an operation whose caller already answered `Unavailable` is not applied after all.
    pub(crate) fn enter(&mut self) -> Result<(), DbError> {
        match self.started.take() {
            Some(tx) => tx.send(()).map_err(|()| DbError::Abandoned),
            None => Ok(()),
        }
    }
}

/// Runs one store operation in its own task and waits for it within the two budgets.
///
/// Why a task: diesel-async 0.9 makes a `SyncConnectionWrapper` future that is dropped while
/// its blocking statement still runs wait for that statement with `block_in_place`, which
/// blocks a worker for up to `busy_timeout` on a multi-thread runtime and **panics on a
/// current-thread one** (actix-web's). A timeout, or a client that disconnects, would drop the
/// future. In a spawned task nothing is ever cancelled: when the caller stops waiting, the
/// task finishes on its own and the connection goes back to the pool in a clean state.
///
/// Budgets: `acquire` until the task holds a connection (the pool's own wait timeout ends a
/// task that never gets one), then `query` for the operation. A caller that timed out gets
/// `Unavailable`; a write that was already running may still complete.
pub(crate) async fn run_detached<T, F, Fut>(timeouts: Timeouts, make: F) -> Result<T, DbError>
where
    F: FnOnce(Gate) -> Fut,
    Fut: Future<Output = Result<T, DbError>> + Send + 'static,
    T: Send + 'static,
{
    let (started_tx, started_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let task = make(Gate { started: Some(started_tx) });
    tokio::spawn(async move {
        // The caller may be gone; then nobody needs the answer.
        let _ = done_tx.send(task.await);
    });
    // `Err(RecvError)` means the task ended without starting (e.g. the checkout failed); its
    // answer is then already in `done_rx`.
    if tokio::time::timeout(timeouts.acquire, started_rx).await.is_err() {
        return Err(DbError::TimedOut { what: "pool checkout", after: timeouts.acquire });
    }
    match tokio::time::timeout(timeouts.query, done_rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(DbError::Internal("the database task ended without an answer")),
        Err(_) => Err(DbError::TimedOut { what: "query", after: timeouts.query }),
    }
}

/// Maps a failed checkout (the pool's wait timeout included) to the store's error.
pub(crate) fn checkout_failed(e: deadpool::managed::PoolError<PoolError>) -> DbError {
    DbError::Pool(Box::new(e))
}

/// Runs `$sqlite` with `$conn` bound to a pooled connection of the configured backend, in a
/// task of its own (see [`run_detached`]). The body is moved into that task, so it may only
/// use owned values. Evaluates to `Result<T, DbError>`; `?` in the body converts into
/// `DbError`.
macro_rules! dispatch {
    ($store:expr, |$conn:ident| sqlite => $sqlite:expr) => {{
        let store: &$crate::pool::DieselStore = &$store;
        let pool = store.pool.clone();
        $crate::pool::run_detached(store.timeouts, move |mut gate: $crate::pool::Gate| {
            $crate::pool::typed(async move {
                match pool {
                    $crate::pool::DbPool::Sqlite(pool) => {
                        let mut obj = pool.get().await.map_err($crate::pool::checkout_failed)?;
                        gate.enter()?;
                        let $conn = &mut *obj;
                        $sqlite
                    }
                }
            })
        })
        .await
    }};
}

/// Runs `$body` on a pooled connection (see [`dispatch!`]).
macro_rules! with_conn {
    ($store:expr, |$conn:ident| $body:expr) => {
        $crate::pool::dispatch!($store, |$conn| sqlite => $body)
    };
}

/// Runs `$body` in one write transaction, committed if it returns `Ok`, rolled back otherwise.
/// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads before
/// it writes never fails with SQLITE_BUSY on the lock upgrade, and concurrent writers queue
/// on `busy_timeout` instead.
macro_rules! write_tx {
    ($store:expr, |$conn:ident| $body:expr) => {
        $crate::pool::dispatch!($store, |conn| sqlite => {
            conn.immediate_transaction::<_, $crate::error::DbError, _>(async |$conn| $body).await
        })
    };
}

/// Runs `$body` in one read transaction, so several queries see one snapshot.
macro_rules! read_tx {
    ($store:expr, |$conn:ident| $body:expr) => {
        $crate::pool::dispatch!($store, |conn| sqlite => {
            ::diesel_async::AsyncConnection::transaction::<_, $crate::error::DbError, _>(conn, async |$conn| $body)
                .await
        })
    };
}

pub(crate) use {dispatch, read_tx, with_conn, write_tx};

impl StoreHealth for DieselStore {
    async fn ping(&self) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1")).execute(c).await?;
            Ok(())
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `diesel migration redo` checks: every `down.sql` undoes its `up.sql`.
    #[test]
    fn migrations_revert_and_reapply() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let applied = conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len();
        assert!(applied > 0);
        assert_eq!(conn.revert_all_migrations(SQLITE_MIGRATIONS).unwrap().len(), applied);
        assert_eq!(conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(), applied);
    }
}
