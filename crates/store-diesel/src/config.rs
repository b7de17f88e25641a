//! Connection settings and the database URL forms the store accepts.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::DbError;

/// How to reach the database and how long to wait for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbConfig {
    /// `postgres://user:password@host:5432/db` (or `postgresql://`, with tokio-postgres'
    /// parameters such as `?connect_timeout=2`), or for SQLite
    /// `sqlite://data/portcullis.db`, `sqlite:relative/or/absolute.db` or a plain path, whose
    /// parent directory and file are created when missing.
    pub url: String,
    /// Pool size (at least 1 is used). SQLite serialises writers anyway, so a few suffice;
    /// on PostgreSQL every instance holds up to this many server connections.
    pub max_connections: usize,
    /// Longest wait for a pooled connection before answering `Unavailable`. On PostgreSQL it
    /// also bounds opening a new connection and verifying an idle one.
    pub acquire_timeout: Duration,
    /// Longest run of one store operation (after checkout) before answering `Unavailable`.
    pub query_timeout: Duration,
}

impl DbConfig {
    /// Settings for `url` with the defaults: 8 connections, 5 s to acquire one, 10 s per
    /// operation (longer than SQLite's 5 s `busy_timeout`, so a locked database reports
    /// itself before the budget runs out).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(10),
        }
    }
}

/// A parsed database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, already checked to parse.
    Postgres(String),
}

impl Target {
    /// Parses the accepted URL forms.
    pub(crate) fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Parsed here so a typo is a configuration error, not an unreachable database.
            url.parse::<tokio_postgres::Config>()
                .map_err(|e| DbError::Config(format!("invalid PostgreSQL URL: {e}")))?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        // `sqlite:///abs.db` keeps its leading slash after the `sqlite://` prefix goes.
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.is_empty() {
            return Err(DbError::Config("the database URL names no file".to_owned()));
        }
        // A pool over `:memory:` gives each connection its own empty database; and SQLite would
        // read `file:` as a URI with options we do not manage.
        if path == ":memory:" || path.starts_with("file:") || path.contains("mode=memory") {
            return Err(DbError::Config(format!("use a file path, not {path:?}")));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(p: &str) -> Target {
        Target::Sqlite(PathBuf::from(p))
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(Target::parse("sqlite://data/portcullis.db").unwrap(), sqlite("data/portcullis.db"));
        assert_eq!(Target::parse("sqlite:///var/lib/p.db").unwrap(), sqlite("/var/lib/p.db"));
        assert_eq!(Target::parse("sqlite:rel/p.db").unwrap(), sqlite("rel/p.db"));
        assert_eq!(Target::parse("sqlite:/abs/p.db").unwrap(), sqlite("/abs/p.db"));
        assert_eq!(Target::parse(" plain.db ").unwrap(), sqlite("plain.db"));
    }

    #[test]
    fn refuses_what_cannot_work() {
        for bad in ["", "sqlite://", "sqlite::memory:", ":memory:", "file:x.db?mode=memory", "postgres://h/p?bogus=1"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accepts_postgres_urls() {
        for url in ["postgres://postgres@127.0.0.1:5432/p", "postgresql://u:pw@db/p?connect_timeout=2"] {
            assert_eq!(Target::parse(url).unwrap(), Target::Postgres(url.to_owned()));
        }
    }
}
