//! Which store a test runs on, and raw SQL access to it.

use std::path::Path;

use diesel::{Connection, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use portcullis_store_diesel::test_db;

/// The store behind a test app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database on `TEST_DATABASE_URL`'s server.
    Postgres,
}

/// Whether PostgreSQL tests can run: `false` (after a loud message) when no server answers and
/// `REQUIRE_POSTGRES` is unset; a panic when it is set.
pub async fn postgres_available() -> bool {
    // Creating (and dropping) a database is the real check that tests will need.
    test_db::TestDatabase::create().await.is_some()
}

/// Runs one statement on a SQLite file (blocking: call it off the async threads).
pub fn sqlite_exec(path: &Path, statement: &str) {
    let mut conn = SqliteConnection::establish(&path.display().to_string()).expect("open sqlite");
    diesel::RunQueryDsl::execute(diesel::sql_query("PRAGMA busy_timeout = 10000"), &mut conn).expect("pragma");
    if let Err(e) = diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn) {
        panic!("sql {statement:?} failed: {e}");
    }
}

/// Runs one statement on a PostgreSQL database.
pub async fn postgres_exec(url: &str, statement: &str) {
    let mut conn = AsyncPgConnection::establish(url).await.expect("connect to postgres");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn).await.expect("sql runs");
}

/// Declares each listed `async fn name(backend: Backend)` as two tests, `sqlite::name` and
/// `postgres::name`; the PostgreSQL one skips loudly when no server answers (and fails under
/// `REQUIRE_POSTGRES=1`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if $crate::backend::postgres_available().await {
                        super::$name($crate::Backend::Postgres).await
                    }
                }
            )*
        }
    };
}
