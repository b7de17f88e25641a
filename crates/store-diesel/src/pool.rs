//! The store handle: one pool per backend (an enum, since diesel-async has no multi-backend
//! connection), start-up (migrations, then the pool) and the health probe. What each backend
//! does differently lives in [`crate::backend`]; how an operation runs on the pool in
//! [`crate::detached`].

use std::time::Duration;

use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::deadpool::Pool;
use portcullis_domain::ports::{StoreError, StoreHealth};

use crate::backend::postgres::{self, PgConn};
use crate::backend::sqlite::{self, SqliteConn};
use crate::config::{DbConfig, Target};
use crate::detached::with_conn;
use crate::error::DbError;

/// The connection pool's usage, readable without the store ([`DieselStore::pool_gauge`]).
#[derive(Clone)]
pub struct PoolGauge {
    pool: DbPool,
}

impl std::fmt::Debug for PoolGauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PoolGauge").field(&self.status()).finish()
    }
}

impl PoolGauge {
    /// As [`DieselStore::pool_status`].
    pub fn status(&self) -> PoolStatus {
        self.pool.status()
    }
}

/// One pool per supported backend.
#[derive(Clone)]
pub(crate) enum DbPool {
    /// SQLite file.
    Sqlite(Pool<SqliteConn>),
    /// PostgreSQL server.
    Postgres(Pool<PgConn>),
}

impl DbPool {
    /// Usage counters now, on either backend; never waits.
    fn status(&self) -> PoolStatus {
        match self {
            Self::Sqlite(p) => p.status().into(),
            Self::Postgres(p) => p.status().into(),
        }
    }
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
        // No URL: it may carry a password.
        let (backend, status) = match &self.pool {
            DbPool::Sqlite(p) => ("sqlite", p.status()),
            DbPool::Postgres(p) => ("postgres", p.status()),
        };
        f.debug_struct("DieselStore")
            .field("backend", &backend)
            .field("pool_size", &status.size)
            .field("pool_max", &status.max_size)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// How the connection pool is used right now, as plain numbers (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections the pool may open.
    pub max: usize,
    /// Connections open now (idle and in use).
    pub open: usize,
    /// Open connections waiting in the pool for an operation.
    pub idle: usize,
    /// Connections checked out by an operation.
    pub in_use: usize,
    /// Operations waiting for a connection.
    pub waiting: usize,
}

impl From<deadpool::Status> for PoolStatus {
    fn from(s: deadpool::Status) -> Self {
        Self {
            max: s.max_size,
            open: s.size,
            idle: s.available,
            in_use: s.size.saturating_sub(s.available),
            waiting: s.waiting,
        }
    }
}

impl DieselStore {
    /// The pool's usage now, on either backend. Reads counters only: never waits.
    pub fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }

    /// A handle that reads the pool's usage and can do nothing else, for a metrics exporter
    /// that must not hold the store (it lives inside the service).
    pub fn pool_gauge(&self) -> PoolGauge {
        PoolGauge { pool: self.pool.clone() }
    }

    /// Runs pending migrations, then opens the pool.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached, opened or created (or stays
    /// locked); `Other` for an unusable URL or a failing migration.
    pub async fn connect(cfg: &DbConfig) -> Result<Self, StoreError> {
        let timeouts = Timeouts { acquire: cfg.acquire_timeout, query: cfg.query_timeout };
        let pool = match Target::parse(&cfg.url)? {
            Target::Sqlite(path) => {
                sqlite::run_migrations(path.clone()).await?;
                DbPool::Sqlite(sqlite::pool(&path, cfg.max_connections, cfg.acquire_timeout)?)
            }
            Target::Postgres(url) => {
                postgres::run_migrations(&url, cfg.acquire_timeout, None).await?;
                DbPool::Postgres(postgres::pool(&url, cfg)?)
            }
        };
        Ok(Self { pool, timeouts })
    }
}

/// Applies the embedded migrations that `url`'s database lacks; returns how many ran.
///
/// # Errors
/// As [`DieselStore::connect`].
pub async fn migrate(url: &str) -> Result<usize, StoreError> {
    Ok(migrate_then(url, None).await?)
}

/// [`migrate`], then on PostgreSQL `then` (SQL) under the same migration lock.
pub(crate) async fn migrate_then(url: &str, then: Option<String>) -> Result<usize, DbError> {
    let connect_within = DbConfig::new(url).acquire_timeout;
    match (Target::parse(url)?, then) {
        (Target::Sqlite(path), None) => sqlite::run_migrations(path).await,
        (Target::Sqlite(_), Some(_)) => Err(DbError::Config("an own user table needs PostgreSQL".into())),
        (Target::Postgres(url), then) => postgres::run_migrations(&url, connect_within, then).await,
    }
}

impl StoreHealth for DieselStore {
    async fn ping(&self) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1")).execute(c).await?;
            Ok(())
        })?;
        Ok(())
    }
}
