//! [`RateLimiter`]: sliding windows over one row per counted event. One algorithm, written
//! twice: in Rust for SQLite and as a PL/pgSQL function for PostgreSQL (one round trip).

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;
use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{Permit, RateDecision, RateLimiter, RateRule, StoreError};

use crate::DieselStore;
use crate::backend::postgres::PgConn;
use crate::backend::sqlite::SqliteConn;
use crate::detached::{dispatch, with_conn};
use crate::error::DbError;
use crate::schema::rate_events;
use crate::sql_types::{DbTime, UtcMillis};

/// Shortest wait ever advertised, so clients never get a zero `Retry-After`.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RateLimiter for DieselStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        let key = key.to_owned();
        // Of N concurrent callers with room for k, exactly k see room: the key's acquires are
        // serialised (SQLite: every writer; PostgreSQL: an advisory lock on the key).
        let decision = dispatch!(self, |c, _db|
            sqlite => c.immediate_transaction::<_, DbError, _>(async |c| sqlite_acquire(c, &key, &rules, now).await).await,
            postgres => postgres_acquire(c, &key, &rules, now).await
        )?;
        Ok(decision)
    }

    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            diesel::delete(rate_events::table.find(permit.0)).execute(c).await?;
            Ok(())
        })?;
        Ok(())
    }

    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        let deleted = with_conn!(self, |c| {
            Ok(diesel::delete(rate_events::table.filter(rate_events::at.lt(DbTime(before)))).execute(c).await?)
        })?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }
}

/// The sliding-window check in the caller's write transaction (SQLite's `BEGIN IMMEDIATE`
/// already keeps every other writer out until it commits). The PostgreSQL store runs the same
/// algorithm as one SQL function, `portcullis_rate_acquire` (migration 000006).
async fn sqlite_acquire(
    c: &mut SqliteConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
) -> Result<RateDecision, DbError> {
    if let Some(longest) = rules.iter().map(|r| r.window).max() {
        // Events no rule looks at any more.
        diesel::delete(
            rate_events::table.filter(rate_events::key.eq(key)).filter(rate_events::at.le(DbTime(now.minus(longest)))),
        )
        .execute(c)
        .await?;
    }
    let mut wait: Option<i64> = None;
    for rule in rules {
        let window = millis(rule.window);
        let since = DbTime(now.minus(rule.window));
        let in_window = rate_events::table.filter(rate_events::key.eq(key)).filter(rate_events::at.gt(since));
        let count: i64 = in_window.count().get_result(c).await?;
        let max = i64::from(rule.max);
        if count < max {
            continue;
        }
        // Room opens when the event that takes the count back under `max` leaves the
        // window: the oldest one, unless the rule was tightened since it filled.
        let leaving: Option<DbTime> = in_window
            .order((rate_events::at.asc(), rate_events::id.asc()))
            .select(rate_events::at)
            .offset(count - max)
            .first(c)
            .await
            .optional()?;
        let until =
            leaving.map_or(window, |at| at.0.unix_millis().saturating_add(window).saturating_sub(now.unix_millis()));
        wait = Some(wait.map_or(until, |w| w.max(until)));
    }
    if let Some(wait) = wait {
        return Ok(limited(wait));
    }
    let id: i64 = diesel::insert_into(rate_events::table)
        .values((rate_events::key.eq(key), rate_events::at.eq(DbTime(now))))
        .returning(rate_events::id)
        .get_result(c)
        .await?;
    Ok(RateDecision::Allowed(Permit(id)))
}

/// What `portcullis_rate_acquire` answers: a permit, or the wait until there is room.
#[derive(QueryableByName)]
struct PgAcquired {
    #[diesel(sql_type = Nullable<BigInt>)]
    permit: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    retry_after_ms: Option<i64>,
}

/// The check in one statement, outside any transaction, so the key's advisory lock is held
/// for one round trip rather than six. Under a login flood on a two-core machine, where
/// hashing keeps both cores busy and every round trip waits to be scheduled, the six-trip
/// transaction (per-IP key and per-account key on every login) was what kept PostgreSQL
/// logins below the hashing limit.
async fn postgres_acquire(
    c: &mut PgConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
) -> Result<RateDecision, DbError> {
    let windows: Vec<i64> = rules.iter().map(|r| millis(r.window)).collect();
    let maxes: Vec<i64> = rules.iter().map(|r| i64::from(r.max)).collect();
    let row: PgAcquired =
        diesel::sql_query("SELECT permit, retry_after_ms FROM portcullis_rate_acquire($1, $2, $3, $4)")
            .bind::<Text, _>(key)
            .bind::<UtcMillis, _>(DbTime(now))
            .bind::<Array<BigInt>, _>(windows)
            .bind::<Array<BigInt>, _>(maxes)
            .get_result(c)
            .await?;
    match (row.permit, row.retry_after_ms) {
        (Some(id), _) => Ok(RateDecision::Allowed(Permit(id))),
        (None, Some(wait)) => Ok(limited(wait)),
        (None, None) => Err(DbError::Internal("portcullis_rate_acquire answered neither permit nor wait")),
    }
}

/// A refusal to wait `wait_ms` milliseconds, never less than [`MIN_RETRY_AFTER`].
fn limited(wait_ms: i64) -> RateDecision {
    let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
    RateDecision::Limited { retry_after: wait.max(MIN_RETRY_AFTER) }
}
