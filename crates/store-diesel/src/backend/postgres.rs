//! PostgreSQL: `AsyncPgConnection`s (tokio-postgres, no libpq) with connect timeouts, a pool
//! that verifies connections that sat idle and throws away any connection that failed or
//! overran its budget, and migrations under an advisory lock.

use std::time::Duration;

use deadpool::managed::Metrics;
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Hook, HookError, Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use tokio_postgres::NoTls;

use crate::config::DbConfig;
use crate::error::{DbError, query_unavailable};

/// A PostgreSQL connection (its socket is driven by a task of its own).
pub(crate) type PgConn = AsyncPgConnection;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Instances starting together take turns migrating instead of racing to create tables.
const MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(hashtextextended('portcullis:migrations', 0))";

/// Opens one connection within `within`, however the host misbehaves: tokio-postgres'
/// `connect_timeout` (unless the URL sets its own) bounds each TCP connect, and the outer
/// timeout the whole handshake, which a host that accepts and then stalls would drag out.
///
/// With `statement_budget`, the server ends any statement of this session that runs longer
/// (see [`server_side_budget`]); migrations open their connection without one.
pub(crate) async fn establish(
    url: &str,
    within: Duration,
    statement_budget: Option<Duration>,
) -> ConnectionResult<PgConn> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e: tokio_postgres::Error| ConnectionError::InvalidConnectionUrl(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(within);
    }
    if let Some(budget) = statement_budget {
        server_side_budget(&mut config, budget);
    }
    let connect = async {
        let (client, connection) =
            config.connect(NoTls).await.map_err(|e| ConnectionError::BadConnection(with_causes(&e)))?;
        PgConn::try_from_client_and_connection(client, connection).await
    };
    tokio::time::timeout(within, connect)
        .await
        .map_err(|_| ConnectionError::BadConnection(format!("no connection within {within:?}")))?
}

/// Sets the session's `statement_timeout` to the store's query budget, in the startup
/// packet (no extra round trip), unless the URL's `options` set one already.
///
/// The client gives up on an operation after the budget and asks the server to cancel it, but
/// that request is best effort: it travels on a new connection that may not get through, and
/// one that arrives before the statement does is discarded by the server. A backend waiting on
/// a lock does not notice that its client went away, so without this it would keep waiting (and
/// then run its transaction for nobody) for as long as the lock is held. No statement of an
/// operation can rightly outlast the whole operation's budget, so the server may end it then.
fn server_side_budget(config: &mut tokio_postgres::Config, budget: Duration) {
    let existing = config.get_options().unwrap_or_default().to_owned();
    if existing.contains("statement_timeout") {
        return;
    }
    let ours = format!("-c statement_timeout={}", budget.as_millis().max(1));
    config.options(if existing.is_empty() { ours } else { format!("{existing} {ours}") });
}

/// tokio-postgres' connect errors say "error connecting to server" and keep the reason
/// (refused, reset, authentication, ...) in their sources.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Applies the pending migrations, then `then` (SQL, still under the lock); returns how many
/// migrations ran. The harness is synchronous, so it runs in the blocking pool on
/// `AsyncConnectionWrapper` (diesel-async's own `AsyncMigrationHarness` panics on a
/// current-thread runtime).
pub(crate) async fn run_migrations(
    url: &str,
    connect_within: Duration,
    then: Option<String>,
) -> Result<usize, DbError> {
    let conn = establish(url, connect_within, None).await.map_err(DbError::Connect)?;
    tokio::task::spawn_blocking(move || -> Result<usize, DbError> {
        let mut conn = AsyncConnectionWrapper::<PgConn>::from(conn);
        diesel::connection::SimpleConnection::batch_execute(&mut conn, MIGRATION_LOCK)?;
        // The lock is the session's: it goes when this connection is dropped.
        let applied = conn.run_pending_migrations(MIGRATIONS).map_err(DbError::Migration)?.len();
        if let Some(sql) = then {
            diesel::connection::SimpleConnection::batch_execute(&mut conn, &sql)?;
        }
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        Ok(applied)
    })
    .await?
}

/// A pooled connection unused for longer than this is verified with `SELECT 1` before it is
/// handed out again. One in steady use is not: a `SELECT 1` on every checkout was a third of
/// a login's round trips (six of them) and, on a machine where hashing keeps the cores busy,
/// each round trip is a wake-up of the server and of a PostgreSQL backend. A connection that
/// breaks while in use is closed by [`settle`]; one whose socket closed while idle is
/// dropped by the broken-connection check that runs on every checkout.
const VERIFY_AFTER_IDLE: Duration = Duration::from_secs(5);

/// The pool. Every step of a checkout is bounded by `acquire_timeout`: waiting for a slot,
/// opening a connection, and the `SELECT 1` that verifies one that sat idle (a connection
/// that fails or stalls there is dropped and the next one tried).
pub(crate) fn pool(url: &str, cfg: &DbConfig) -> Result<Pool<PgConn>, DbError> {
    let within = cfg.acquire_timeout;
    let budget = cfg.query_timeout;
    let mut manager = ManagerConfig::<PgConn>::default();
    manager.recycling_method = RecyclingMethod::Fast;
    manager.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move { establish(&url, within, Some(budget)).await }.boxed()
    });
    Pool::builder(AsyncDieselConnectionManager::<PgConn>::new_with_config(url, manager))
        .max_size(cfg.max_connections.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(within))
        .create_timeout(Some(within))
        .recycle_timeout(Some(within))
        .pre_recycle(Hook::async_fn(move |conn: &mut PgConn, metrics: &Metrics| {
            Box::pin(async move {
                if metrics.last_used() < VERIFY_AFTER_IDLE {
                    return Ok(());
                }
                match tokio::time::timeout(within, diesel::sql_query("SELECT 1").execute(conn)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(HookError::Message(format!("idle connection failed its check: {e}").into())),
                    Err(_) => Err(HookError::Message("idle connection did not answer its check".into())),
                }
            })
        }))
        .build()
        .map_err(|e| DbError::Pool(Box::new(e)))
}

/// Turns the outcome of one operation into its answer, and decides whether the connection
/// may go back to the pool. It may not when the operation overran its budget (the statement
/// may still be running and a transaction may be open: the server is asked to cancel it) or
/// when the connection broke; then it is closed instead, and a broken connection's error
/// counts as the database being unavailable.
pub(crate) fn settle<T>(
    mut conn: Object<PgConn>,
    outcome: Result<Result<T, DbError>, tokio::time::error::Elapsed>,
    budget: Duration,
) -> Result<T, DbError> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        // A statement that failed because the server is going away (an administrator ended
        // the session, a shutdown) arrives before the socket closes: that connection is as good
        // as broken, and with `RecyclingMethod::Fast` nothing else would catch it.
        Ok(Err(e)) if conn.is_broken() || matches!(&e, DbError::Query(q) if query_unavailable(q)) => {
            drop(Object::take(conn));
            Err(match e {
                DbError::Query(e) => DbError::Lost(e),
                other => other,
            })
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let cancel = conn.cancel_token();
            drop(Object::take(conn));
            tokio::spawn(async move {
                // Best effort: an unreachable server is not running the statement either.
                let _ = tokio::time::timeout(budget, cancel.cancel_query(NoTls)).await;
            });
            Err(DbError::TimedOut { what: "query", after: budget })
        }
    }
}

/// `FOR UPDATE SKIP LOCKED`: the selected rows stay locked until the claim commits, and a
/// concurrent claimer passes over them instead of waiting and handing them out again.
macro_rules! skip_locked {
    ($query:expr) => {
        $query.for_update().skip_locked()
    };
}

pub(crate) use skip_locked;

#[cfg(test)]
mod budget_tests {
    use super::*;

    fn options_for(url: &str) -> Option<String> {
        let mut config: tokio_postgres::Config = url.parse().unwrap();
        server_side_budget(&mut config, Duration::from_millis(1_500));
        config.get_options().map(str::to_owned)
    }

    #[test]
    fn the_query_budget_becomes_the_sessions_statement_timeout() {
        assert_eq!(options_for("postgres://u@h/db").as_deref(), Some("-c statement_timeout=1500"));
    }

    #[test]
    fn other_options_in_the_url_are_kept() {
        assert_eq!(
            options_for("postgres://u@h/db?options=-c%20search_path%3Dauth").as_deref(),
            Some("-c search_path=auth -c statement_timeout=1500")
        );
    }

    #[test]
    fn an_operators_own_statement_timeout_wins() {
        assert_eq!(
            options_for("postgres://u@h/db?options=-c%20statement_timeout%3D30s").as_deref(),
            Some("-c statement_timeout=30s")
        );
    }
}

#[cfg(all(test, feature = "test-db"))]
mod tests {
    use super::*;
    use crate::test_db::TestDatabase;

    /// What `diesel migration redo` checks: every `down.sql` undoes its `up.sql`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn migrations_revert_and_reapply() {
        let Some(db) = TestDatabase::create().await else { return };
        let conn = establish(db.url(), Duration::from_secs(5), None).await.unwrap();
        tokio::task::spawn_blocking(move || {
            let mut conn = AsyncConnectionWrapper::<PgConn>::from(conn);
            let applied = conn.run_pending_migrations(MIGRATIONS).unwrap().len();
            assert!(applied > 0);
            assert_eq!(conn.revert_all_migrations(MIGRATIONS).unwrap().len(), applied);
            assert_eq!(conn.run_pending_migrations(MIGRATIONS).unwrap().len(), applied);
        })
        .await
        .unwrap();
    }
}
