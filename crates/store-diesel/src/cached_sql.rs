//! [`CachedSql`]: hand-written PostgreSQL statements that the connection keeps prepared.
//!
//! `diesel::sql_query` marks its text unsafe to cache (it cannot know the text is fixed), so
//! diesel-async prepares it afresh on every call: one round trip to `Parse` and describe it,
//! one to run it, and the server parses and plans it each time. On a login's hot path (the
//! rate-limit functions run on every login and registration) that was two round trips and
//! a parse per call. The texts here are constants, so they are cached like the query
//! builder's statements: prepared once per connection, then one round trip each.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Text, Untyped};
use diesel::{QueryResult, result::Error};

use crate::sql_types::{DbTime, DbUuid, UtcMillis, Uuid};

/// One bound parameter of a [`CachedSql`].
pub(crate) enum Arg<'a> {
    /// `text`.
    Text(&'a str),
    /// `timestamptz`.
    Time(DbTime),
    /// `bigint`.
    BigInt(i64),
    /// `bigint[]`.
    BigInts(Vec<i64>),
    /// `uuid`.
    Uuid(DbUuid),
}

/// A constant SQL text whose `?`s are replaced, in order, by the bound `args` (`$1`, `$2`,
/// ...). The text must hold no other `?`. Loaded by column name, like `sql_query`'s rows
/// (`QueryableByName`).
pub(crate) struct CachedSql<'a> {
    sql: &'static str,
    args: Vec<Arg<'a>>,
}

impl<'a> CachedSql<'a> {
    /// `sql` with `args` for its placeholders.
    pub(crate) fn new(sql: &'static str, args: Vec<Arg<'a>>) -> Self {
        Self { sql, args }
    }
}

impl QueryFragment<Pg> for CachedSql<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut pieces = self.sql.split('?');
        let placeholders = self.sql.matches('?').count();
        if placeholders != self.args.len() {
            return Err(Error::QueryBuilderError(
                format!("{placeholders} placeholders for {} arguments", self.args.len()).into(),
            ));
        }
        if let Some(head) = pieces.next() {
            out.push_sql(head);
        }
        for (arg, piece) in self.args.iter().zip(pieces) {
            match arg {
                Arg::Text(text) => out.push_bind_param::<Text, str>(text)?,
                Arg::Time(time) => out.push_bind_param::<UtcMillis, DbTime>(time)?,
                Arg::BigInt(n) => out.push_bind_param::<BigInt, i64>(n)?,
                Arg::BigInts(ns) => out.push_bind_param::<Array<BigInt>, Vec<i64>>(ns)?,
                Arg::Uuid(id) => out.push_bind_param::<Uuid, DbUuid>(id)?,
            }
            out.push_sql(piece);
        }
        Ok(())
    }
}

/// Not one statement per type: the cache keys these by their text (and bind types).
impl QueryId for CachedSql<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CachedSql<'_> {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::debug_query;

    #[test]
    fn placeholders_become_numbered_parameters() {
        let q =
            CachedSql::new("SELECT f(?, ?) WHERE x = ?", vec![Arg::Text("k"), Arg::BigInt(1), Arg::BigInts(vec![2])]);
        assert_eq!(debug_query::<Pg, _>(&q).to_string().split(" -- ").next(), Some("SELECT f($1, $2) WHERE x = $3"));
    }

    #[test]
    fn a_count_mismatch_is_an_error_not_a_wrong_statement() {
        let q = CachedSql::new("SELECT f(?, ?)", vec![Arg::Text("k")]);
        let mut builder = diesel::pg::PgQueryBuilder::default();
        assert!(q.to_sql(&mut builder, &Pg).is_err());
    }

    #[test]
    fn is_cacheable_by_its_text() {
        let q = CachedSql::new("SELECT f(?)", vec![Arg::Text("k")]);
        assert!(q.is_safe_to_cache_prepared(&Pg).unwrap());
        // No id per type: texts of one type must not share a cache entry.
        assert!(<CachedSql<'_> as QueryId>::query_id().is_none());
    }
}
