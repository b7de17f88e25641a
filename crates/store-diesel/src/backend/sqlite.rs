//! SQLite: a file, `SyncConnectionWrapper` connections, pragmas, `BEGIN IMMEDIATE`, and
//! migrations on a plain sync connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use crate::error::DbError;

/// A SQLite connection driven from async code through tokio's blocking pool.
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Per-connection setup, followed by [`crate::sql_functions::register_sqlite`]. `busy_timeout`
/// comes first: otherwise setting the journal mode on a new connection fails with "database
/// is locked" while another connection writes.
const PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// Creates the directory and file, switches the file to WAL and migrates, on a plain sync
/// connection in the blocking pool: diesel-async's `AsyncMigrationHarness` uses
/// `block_in_place`, which panics on the current-thread runtimes actix-web runs.
pub(crate) async fn run_migrations(path: PathBuf) -> Result<usize, DbError> {
    tokio::task::spawn_blocking(move || -> Result<usize, DbError> {
        create_parent(&path)?;
        let mut conn = SqliteConnection::establish(path_str(&path)?).map_err(DbError::Connect)?;
        conn.batch_execute(PRAGMAS)?;
        let applied = conn.run_pending_migrations(MIGRATIONS).map_err(DbError::Migration)?.len();
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

/// The pool over one file.
pub(crate) fn pool(path: &Path, max_connections: usize, wait: Duration) -> Result<Pool<SqliteConn>, DbError> {
    let mut cfg = ManagerConfig::<SqliteConn>::default();
    // A local file has no connection to lose, so skip the per-checkout `SELECT 1` (a blocking
    // round trip); open transactions are still detected and such connections dropped.
    cfg.recycling_method = RecyclingMethod::Fast;
    cfg.custom_setup = Box::new(|url| {
        let url = url.to_owned();
        async move {
            let mut conn = SqliteConn::establish(&url).await?;
            conn.batch_execute(PRAGMAS).await.map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            conn.spawn_blocking(crate::sql_functions::register_sqlite)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
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

/// The query unchanged: SQLite has no row locks, and `BEGIN IMMEDIATE` already keeps a second
/// claimer out until the first commits.
macro_rules! skip_locked {
    ($query:expr) => {
        $query
    };
}

pub(crate) use skip_locked;

#[cfg(test)]
mod tests {
    use super::*;

    /// What `diesel migration redo` checks: every `down.sql` undoes its `up.sql`.
    #[test]
    fn migrations_revert_and_reapply() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let applied = conn.run_pending_migrations(MIGRATIONS).unwrap().len();
        assert!(applied > 0);
        assert_eq!(conn.revert_all_migrations(MIGRATIONS).unwrap().len(), applied);
        assert_eq!(conn.run_pending_migrations(MIGRATIONS).unwrap().len(), applied);
    }
}
