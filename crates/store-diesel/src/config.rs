//! Connection settings and the database URL forms the store accepts.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::DbError;

/// How to reach the database and how long to wait for it. Its `Debug` hides the URL's
/// password.
#[derive(Clone, PartialEq, Eq)]
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
    /// On PostgreSQL it is also the sessions' `statement_timeout`, so the server ends a
    /// statement the store gave up on even when the cancel request is lost.
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

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &portcullis_domain::redact::url_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

/// The URL scheme of `url` (`postgres` of `postgres://...`), if it starts with one: a letter,
/// then letters, digits, `+`, `-` or `.`, then `:` (RFC 3986 §3.1).
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// Checks that `url` is a database URL this store serves, without opening anything.
///
/// # Errors
/// Why not, in words that name the scheme or the problem and never the URL's password.
pub fn check_url(url: &str) -> Result<(), String> {
    Target::parse(url).map(|_| ()).map_err(|e| match e {
        DbError::Config(why) => why,
        other => other.to_string(),
    })
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
    /// Parses the accepted URL forms: `postgres://` and `postgresql://` URLs, `sqlite://` and
    /// `sqlite:` paths, and plain paths (no scheme). Any other scheme (`postgress://`,
    /// `mysql://`, `postgresql+ssl://`) is refused, naming only the scheme: a typo must stop
    /// the start, not become a SQLite file named after the URL, and the URL may carry a
    /// password.
    pub(crate) fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        let scheme = scheme_of(url).map(str::to_ascii_lowercase);
        match scheme.as_deref() {
            Some(scheme @ ("postgres" | "postgresql")) => {
                // Schemes are case-insensitive (RFC 3986); tokio-postgres reads lower case only.
                let url = format!("{scheme}{}", &url[scheme.len()..]);
                // Parsed here so a typo is a configuration error, not an unreachable database.
                // tokio-postgres' message names the problem, never the URL or its password.
                url.parse::<tokio_postgres::Config>()
                    .map_err(|e| DbError::Config(format!("invalid PostgreSQL URL: {e}")))?;
                return Ok(Self::Postgres(url));
            }
            Some("sqlite") | None => {}
            Some(other) => {
                return Err(DbError::Config(format!(
                    "unsupported database URL scheme {other:?}: use postgres://, postgresql://, sqlite:// or sqlite:"
                )));
            }
        }
        // `sqlite:///abs.db` keeps its leading slash after the `sqlite://` prefix goes.
        let path = match scheme {
            Some(_) => {
                let rest = &url["sqlite:".len()..];
                rest.strip_prefix("//").unwrap_or(rest)
            }
            None => url,
        };
        if path.is_empty() {
            return Err(DbError::Config("the database URL names no file".to_owned()));
        }
        // What looks like a server address mistyped into a path must not become a directory
        // tree named after it (with the password in its name, and in the migration log line):
        // `sqlite://user:password@host/db`, `postgres//app:secret@db/p` (the `:` missing), or
        // libpq's `host=db user=app password=...`.
        if path.contains('@') {
            return Err(DbError::Config(
                "a SQLite path may not contain '@': that is a server URL with a user or password (PostgreSQL \
                 takes postgres://)"
                    .to_owned(),
            ));
        }
        if scheme.is_none() && path.contains("//") {
            return Err(DbError::Config("a path with '//' looks like a URL missing its ':'".to_owned()));
        }
        if path.contains('=') && path.contains(char::is_whitespace) {
            return Err(DbError::Config(
                "key=value connection strings are not supported: use a postgres:// URL".to_owned(),
            ));
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
        assert_eq!(Target::parse("data/plain.db").unwrap(), sqlite("data/plain.db"));
        assert_eq!(Target::parse("SQLite://data/p.db").unwrap(), sqlite("data/p.db"));
        assert_eq!(Target::parse("PostgreSQL://u@db/p").unwrap(), Target::Postgres("postgresql://u@db/p".to_owned()));
    }

    #[test]
    fn refuses_what_cannot_work() {
        for bad in ["", "sqlite://", "sqlite::memory:", ":memory:", "file:x.db?mode=memory", "postgres://h/p?bogus=1"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_other_schemes_naming_only_the_scheme() {
        for (url, scheme) in [
            ("postgress://app:secret@127.0.0.1:5432/portcullis", "postgress"),
            ("mysql://app:secret@db/portcullis", "mysql"),
            ("postgresql+ssl://app:secret@db/portcullis", "postgresql+ssl"),
            ("Sqlite3://data/p.db", "sqlite3"),
            ("file:data/p.db", "file"),
        ] {
            let message = Target::parse(url).unwrap_err().to_string();
            assert!(message.contains(&format!("{scheme:?}")), "{url}: {message}");
            assert!(!message.contains("secret") && !message.contains("app"), "{url}: {message}");
        }
        for server_like in [
            "sqlite://app:secret@db/p.db",
            "sqlite:app:secret@host/p.db",
            "postgres//app:secret@db/p",
            "postgres;//app:secret@db/p",
            "postgres//db/p",
            "host=db user=app password=secret dbname=p",
        ] {
            let message = Target::parse(server_like).unwrap_err().to_string();
            assert!(!message.contains("secret"), "{server_like}: {message}");
        }
        let message = Target::parse("postgres://app:secret@db/p?bogus=1").unwrap_err().to_string();
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", DbConfig::new("postgres://app:secret@db/p"));
        assert!(shown.contains("postgres://***@db/p") && !shown.contains("secret"), "{shown}");
    }

    #[test]
    fn accepts_postgres_urls() {
        for url in ["postgres://postgres@127.0.0.1:5432/p", "postgresql://u:pw@db/p?connect_timeout=2"] {
            assert_eq!(Target::parse(url).unwrap(), Target::Postgres(url.to_owned()));
        }
    }
}
