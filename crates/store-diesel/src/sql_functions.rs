//! SQL functions the query bodies call by the same name on both backends, and the SQLite
//! versions that make them behave alike.

use diesel::sql_types::Text;
use diesel::{QueryResult, SqliteConnection};

diesel::define_sql_function! {
    /// SQL `lower(text)`. PostgreSQL folds every letter its database's `LC_CTYPE` knows (all
    /// of Unicode under a UTF-8 locale); SQLite's built-in one folds only ASCII, so
    /// [`register_sqlite`] replaces it on every pooled connection.
    fn lower(x: Text) -> Text;
}

/// Replaces SQLite's ASCII-only `lower` with Rust's Unicode lower-casing on one connection,
/// so a case-insensitive search finds "Élodie" with "élodie" as on PostgreSQL (and as the
/// domain lower-cases the query). Registered as deterministic, like the built-in.
pub(crate) fn register_sqlite(conn: &mut SqliteConnection) -> QueryResult<()> {
    lower_utils::register_impl(conn, |text: String| text.to_lowercase())
}
