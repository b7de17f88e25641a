//! Fresh PostgreSQL databases for tests (cargo feature `test-db`).
//!
//! [`TestDatabase::create`] connects to the server named by `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), creates `portcullis_test_<uuid>` and hands
//! out its URL; dropping the value drops the database. The database is empty: connecting a
//! [`crate::DieselStore`] to it (or [`crate::migrate`]) applies the migrations.
//!
//! When no server answers, `create` prints a `SKIPPED` line and returns `None`, so a machine
//! without PostgreSQL still runs every other test; with `REQUIRE_POSTGRES=1` (CI) it panics
//! instead, so a missing server cannot pass unnoticed.
//!
//! ```no_run
//! # async fn case() {
//! use portcullis_store_diesel::test_db::TestDatabase;
//! use portcullis_store_diesel::{DbConfig, DieselStore};
//!
//! let Some(db) = TestDatabase::create().await else { return }; // skipped, and said so
//! let store = DieselStore::connect(&DbConfig::new(db.url())).await.unwrap();
//! # }
//! ```

use std::time::Duration;

use diesel_async::SimpleAsyncConnection;

use crate::backend::postgres::establish;

/// The server used when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long the probe waits for the server: short, so a machine without one skips fast.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Budget for connecting and dropping the database at the end.
const DROP_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `REQUIRE_POSTGRES=1` (or `true`) asks for PostgreSQL tests to fail rather than
/// skip when no server answers.
pub fn require_postgres() -> bool {
    std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// A database of its own for one test, dropped (with any connections still open to it) when
/// this value is dropped.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database on the test server.
    ///
    /// Returns `None`, after printing why, when no server answers and `REQUIRE_POSTGRES` is
    /// not set.
    ///
    /// # Panics
    /// When no server answers and [`require_postgres`] is true, or when the server answers
    /// but refuses to create the database.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut admin = match establish(&admin_url, PROBE_TIMEOUT, None).await {
            Ok(conn) => conn,
            Err(e) => {
                let shown = portcullis_domain::redact::url_password(&admin_url);
                if require_postgres() {
                    panic!("no PostgreSQL at {shown} ({e}), and REQUIRE_POSTGRES=1");
                }
                eprintln!("SKIPPED: no PostgreSQL at {shown} ({e}) (set REQUIRE_POSTGRES=1 to fail instead)");
                return None;
            }
        };
        let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")).await {
            panic!(
                "cannot create test database {name} on {}: {e}",
                portcullis_domain::redact::url_password(&admin_url)
            );
        }
        Some(TestDatabase { url: with_database(&admin_url, &name), name, admin_url })
    }

    /// The URL of the test database (the admin URL with the database name replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the server's maintenance database, used to create and drop test databases.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The database's name, `portcullis_test_<32 hex digits>`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .field("admin_url", &portcullis_domain::redact::url_password(&self.admin_url))
            .finish()
    }
}

impl Drop for TestDatabase {
    /// Drop cannot await, and the caller's runtime may be a current-thread one that is busy
    /// running this very drop: so a short-lived thread with a runtime of its own connects and
    /// drops the database. Best effort: a failure is printed, never raised.
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropper =
            std::thread::Builder::new().name("drop-test-db".to_owned()).spawn(move || -> Result<(), String> {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let mut admin = establish(&admin_url, DROP_TIMEOUT, None).await.map_err(|e| e.to_string())?;
                    match tokio::time::timeout(DROP_TIMEOUT, admin.batch_execute(&sql)).await {
                        Ok(result) => result.map_err(|e| e.to_string()),
                        Err(_) => Err(format!("no answer within {DROP_TIMEOUT:?}")),
                    }
                })
            });
        let outcome = match dropper {
            Ok(thread) => thread.join().unwrap_or_else(|_| Err("the dropping thread panicked".to_owned())),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome {
            eprintln!("warning: test database {} was not dropped: {e}", self.name);
        }
    }
}

/// `url` with its database name (the path) replaced by `name`, query parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let base = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name_only() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@db/x?connect_timeout=2", "t1"),
            "postgresql://u:p@db/t1?connect_timeout=2"
        );
        assert_eq!(with_database("postgres://db:5432", "t1"), "postgres://db:5432/t1");
        assert_eq!(with_database("postgres://db?sslmode=disable", "t1"), "postgres://db/t1?sslmode=disable");
    }
}
