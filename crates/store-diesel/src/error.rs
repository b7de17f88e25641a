//! The crate's internal error and its translation into the domain's [`StoreError`] — the one
//! place where driver errors are classified (STYLE item 12).
//!
//! Unavailable means "retry later": the pool could not hand out a connection in time, a query
//! outlived its budget, the file could not be opened, SQLite stayed locked past
//! `busy_timeout`, or the PostgreSQL server could not be reached, closed or reset the
//! connection, is shutting down (`57P01`, `57P02`, `57P03`) or has no connection slot left
//! (`53300`). Everything else that is not a contract outcome (`DuplicateEmail`, `Conflict`) is
//! `Other`.

use std::path::PathBuf;
use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as QueryError};
use portcullis_domain::ports::{BoxError, StoreError};

/// What can go wrong inside the store before it is translated.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// `Change::InsertUser` hit an existing email.
    #[error("email address already registered")]
    DuplicateEmail,
    /// A guarded write matched no row.
    #[error("the record was changed concurrently")]
    Conflict,
    /// A pool checkout or an operation ran out of time.
    #[error("{what} timed out after {after:?}")]
    TimedOut {
        /// `pool checkout` or `query`.
        what: &'static str,
        /// The budget that ran out.
        after: Duration,
    },
    /// The pool could not hand out a connection.
    #[error("connection pool error")]
    Pool(#[source] BoxError),
    /// Opening the database failed.
    #[error("cannot open the database")]
    Connect(#[source] diesel::ConnectionError),
    /// The database's directory could not be created.
    #[error("cannot create the database directory {path:?}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A statement failed.
    #[error("query failed")]
    Query(#[from] QueryError),
    /// A statement failed and its connection is gone (PostgreSQL: the server closed it).
    #[error("lost the database connection")]
    Lost(#[source] QueryError),
    /// Running the embedded migrations failed.
    #[error("migrations failed")]
    Migration(#[source] BoxError),
    /// A stored value does not satisfy the domain's rules.
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    /// The configuration cannot work.
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// A blocking task panicked or was cancelled.
    #[error("blocking database task failed")]
    Join(#[from] tokio::task::JoinError),
    /// The caller stopped waiting before a connection was free; the operation was skipped.
    #[error("the caller stopped waiting")]
    Abandoned,
    /// A broken internal invariant (never expected).
    #[error("internal store error: {0}")]
    Internal(&'static str),
}

impl DbError {
    /// A row that does not convert back into a domain value.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }

    /// True when retrying later may succeed.
    fn is_unavailable(&self) -> bool {
        match self {
            Self::TimedOut { .. } | Self::Pool(_) | Self::Connect(_) | Self::Directory { .. } | Self::Lost(_) => true,
            Self::Query(e) => query_unavailable(e),
            Self::Migration(e) => migration_unavailable(e.as_ref()),
            _ => false,
        }
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::DuplicateEmail => StoreError::DuplicateEmail,
            DbError::Conflict => StoreError::Conflict,
            e if e.is_unavailable() => StoreError::Unavailable(Box::new(e)),
            e => StoreError::Other(Box::new(e)),
        }
    }
}

/// SQLite reports these through `DatabaseErrorKind::Unknown` and a message; they are all
/// about the database being momentarily out of reach, not about the statement.
const SQLITE_UNAVAILABLE: &[&str] = &[
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk I/O error",
    "attempt to write a readonly database",
    "database or disk is full",
];

/// PostgreSQL's messages for the SQLSTATEs that mean "the server is going away or full"
/// (`57P01` admin shutdown, `57P02` crash shutdown, `57P03` cannot connect now, `53300` too many
/// connections). diesel passes no SQLSTATE on, so the (English) message is what is left; the
/// pool also treats any error after which the connection is closed as unavailability, so
/// servers with translated messages are covered too (see `backend::postgres::settle`).
const POSTGRES_UNAVAILABLE: &[&str] = &[
    "terminating connection due to administrator command",
    "terminating connection because of crash of another server process",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "sorry, too many clients already",
    "remaining connection slots are reserved",
    // The session's `statement_timeout`, the server-side copy of the query budget.
    "canceling statement due to statement timeout",
];

/// Whether a statement failed because the database could not be reached or was busy.
/// tokio-postgres reports refused, reset and closed connections without a SQLSTATE, which
/// diesel-async turns into `UnableToSendCommand`.
pub(crate) fn query_unavailable(e: &QueryError) -> bool {
    match e {
        QueryError::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => {
            true
        }
        QueryError::DatabaseError(_, info) => {
            SQLITE_UNAVAILABLE.iter().chain(POSTGRES_UNAVAILABLE).any(|m| info.message().contains(m))
        }
        _ => false,
    }
}

fn migration_unavailable(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    if let Some(q) = e.downcast_ref::<QueryError>() {
        return query_unavailable(q);
    }
    if e.downcast_ref::<diesel::ConnectionError>().is_some() {
        return true;
    }
    // diesel_migrations wraps statement errors in a private type with no `source()`; its
    // message quotes SQLite's, so match on that.
    let text = e.to_string();
    SQLITE_UNAVAILABLE.iter().chain(POSTGRES_UNAVAILABLE).any(|m| text.contains(m))
}

/// Whether a write of `users` (an insert, or an update of the address) failed on the email's
/// uniqueness (not on the id's).
pub(crate) fn is_email_taken(e: &QueryError) -> bool {
    match e {
        QueryError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            // SQLite names the column in the message; PostgreSQL names the constraint.
            info.message().contains("users.email") || info.constraint_name() == Some("users_email_key")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::Query(QueryError::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn busy_after_busy_timeout_is_unavailable() {
        let e = StoreError::from(db_error(DatabaseErrorKind::Unknown, "database is locked"));
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    }

    #[test]
    fn timeouts_and_pool_errors_are_unavailable() {
        let e = StoreError::from(DbError::TimedOut { what: "query", after: Duration::from_secs(1) });
        assert!(matches!(e, StoreError::Unavailable(_)));
        let e = StoreError::from(DbError::Pool("closed".into()));
        assert!(matches!(e, StoreError::Unavailable(_)));
    }

    #[test]
    fn postgres_going_away_is_unavailable() {
        for message in ["terminating connection due to administrator command", "sorry, too many clients already"] {
            let e = StoreError::from(db_error(DatabaseErrorKind::Unknown, message));
            assert!(matches!(e, StoreError::Unavailable(_)), "{message}: {e:?}");
        }
        let lost = DbError::Lost(QueryError::DatabaseError(DatabaseErrorKind::Unknown, Box::new("x".to_owned())));
        assert!(matches!(StoreError::from(lost), StoreError::Unavailable(_)));
        let closed = db_error(DatabaseErrorKind::UnableToSendCommand, "connection closed");
        assert!(matches!(StoreError::from(closed), StoreError::Unavailable(_)));
    }

    #[test]
    fn other_failures_are_other() {
        let e = StoreError::from(db_error(DatabaseErrorKind::Unknown, "no such table: users"));
        assert!(matches!(e, StoreError::Other(_)));
        let e = StoreError::from(db_error(DatabaseErrorKind::ForeignKeyViolation, "FOREIGN KEY constraint failed"));
        assert!(matches!(e, StoreError::Other(_)));
        assert!(matches!(StoreError::from(DbError::corrupt("bad uuid")), StoreError::Other(_)));
    }

    #[test]
    fn only_the_email_constraint_means_duplicate_email() {
        let email = QueryError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("UNIQUE constraint failed: users.email".to_owned()),
        );
        let id = QueryError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("UNIQUE constraint failed: users.id".to_owned()),
        );
        assert!(is_email_taken(&email));
        assert!(!is_email_taken(&id));
    }

    #[test]
    fn migration_errors_are_classified_by_their_cause() {
        let locked: BoxError =
            Box::new(QueryError::DatabaseError(DatabaseErrorKind::Unknown, Box::new("database is locked".to_owned())));
        assert!(matches!(StoreError::from(DbError::Migration(locked)), StoreError::Unavailable(_)));
        let bad: BoxError = "syntax error".into();
        assert!(matches!(StoreError::from(DbError::Migration(bad)), StoreError::Other(_)));
    }
}
