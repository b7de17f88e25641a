//! How one store operation runs: in a task of its own, on a pooled connection of the
//! configured backend, within the two budgets; and the macros that write an operation's body
//! once and compile it for each backend.

use std::future::Future;

use diesel_async::pooled_connection::PoolError;
use tokio::sync::oneshot;

use crate::error::DbError;
use crate::pool::Timeouts;

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
/// Why a task: diesel-async 0.9 makes a `SyncConnectionWrapper` (SQLite) future that is
/// dropped while its blocking statement still runs wait for that statement with
/// `block_in_place`, which blocks a worker for up to `busy_timeout` on a multi-thread runtime
/// and **panics on a current-thread one** (actix-web's). A timeout, or a client that
/// disconnects, would drop the future. In a spawned task nothing is cancelled from outside:
/// when the caller stops waiting, the task finishes on its own and the connection goes back
/// to the pool in a clean state. A PostgreSQL future may be dropped, provided its connection
/// is then closed rather than reused, so on that backend the task also stops itself at the
/// query budget (see `backend::postgres::settle`) and a stalled server cannot pin the pool.
///
/// Budgets: `acquire` until the task holds a connection (the pool's own timeouts end a task
/// that never gets one), then `query` for the operation. A caller that timed out gets
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

/// Maps a failed checkout (the pool's timeouts included) to the store's error.
pub(crate) fn checkout_failed(e: deadpool::managed::PoolError<PoolError>) -> DbError {
    DbError::Pool(Box::new(e))
}

/// Runs a body on a pooled connection of the configured backend, in a task of its own (see
/// [`run_detached`]), with `$conn` bound to the connection and `$db` to the backend's module
/// in [`crate::backend`] (for its hooks). One body per backend; [`with_conn!`] and the
/// transaction macros pass the same body twice, so it is written once and compiled for each.
/// The bodies are moved into the task, so they may only use owned values. Evaluates to
/// `Result<T, DbError>`; `?` in a body converts into `DbError`.
macro_rules! dispatch {
    ($store:expr, |$conn:ident, $db:ident| sqlite => $sqlite:expr, postgres => $postgres:expr) => {{
        let store: &$crate::pool::DieselStore = &$store;
        let pool = store.pool.clone();
        let budget = store.timeouts.query;
        $crate::detached::run_detached(store.timeouts, move |mut gate: $crate::detached::Gate| {
            $crate::detached::typed(async move {
                match pool {
                    $crate::pool::DbPool::Sqlite(pool) => {
                        let mut obj = pool.get().await.map_err($crate::detached::checkout_failed)?;
                        gate.enter()?;
                        #[allow(unused_imports)]
                        use $crate::backend::sqlite as $db;
                        let $conn = &mut *obj;
                        $sqlite
                    }
                    $crate::pool::DbPool::Postgres(pool) => {
                        let mut obj = pool.get().await.map_err($crate::detached::checkout_failed)?;
                        gate.enter()?;
                        let outcome = ::tokio::time::timeout(
                            budget,
                            $crate::detached::typed(async {
                                #[allow(unused_imports)]
                                use $crate::backend::postgres as $db;
                                let $conn = &mut *obj;
                                $postgres
                            }),
                        )
                        .await;
                        $crate::backend::postgres::settle(obj, outcome, budget)
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
        $crate::detached::with_conn!($store, |$conn, _db| $body)
    };
    ($store:expr, |$conn:ident, $db:ident| $body:expr) => {
        $crate::detached::dispatch!($store, |$conn, $db| sqlite => $body, postgres => $body)
    };
}

/// Runs `$body` in one write transaction, committed if it returns `Ok`, rolled back otherwise.
/// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads before
/// it writes never fails with SQLITE_BUSY on the lock upgrade, and concurrent writers queue
/// on `busy_timeout` instead. PostgreSQL: a plain (READ COMMITTED) transaction; the bodies
/// make their own races safe (guarded updates, `db::skip_locked!`).
macro_rules! write_tx {
    ($store:expr, |$conn:ident| $body:expr) => {
        $crate::detached::write_tx!($store, |$conn, _db| $body)
    };
    ($store:expr, |$conn:ident, $db:ident| $body:expr) => {
        $crate::detached::dispatch!($store, |conn, $db|
            sqlite => conn.immediate_transaction::<_, $crate::error::DbError, _>(async |$conn| $body).await,
            postgres => ::diesel_async::AsyncConnection::transaction::<_, $crate::error::DbError, _>(
                conn,
                async |$conn| $body,
            )
            .await
        )
    };
}

/// Runs `$body` in one read transaction, so several queries see one snapshot (on PostgreSQL
/// that takes REPEATABLE READ: READ COMMITTED gives each statement its own).
macro_rules! read_tx {
    ($store:expr, |$conn:ident| $body:expr) => {
        $crate::detached::dispatch!($store, |conn, _db|
            sqlite => ::diesel_async::AsyncConnection::transaction::<_, $crate::error::DbError, _>(
                conn,
                async |$conn| $body,
            )
            .await,
            postgres => conn.build_transaction().read_only().repeatable_read().run(async |$conn| $body).await
        )
    };
}

pub(crate) use {dispatch, read_tx, with_conn, write_tx};
