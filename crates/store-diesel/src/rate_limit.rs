//! [`RateLimiter`]: sliding windows over one row per counted event or reserved attempt. Each
//! algorithm is written twice: in Rust for SQLite and as a PL/pgSQL function for PostgreSQL
//! (one round trip).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable};
use diesel_async::RunQueryDsl;
use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{AttemptDecision, Permit, RateDecision, RateLimiter, RateRule, StoreError};

use crate::DieselStore;
use crate::backend::postgres::PgConn;
use crate::backend::sqlite::SqliteConn;
use crate::cached_sql::{Arg, CachedSql};
use crate::detached::{dispatch, with_conn};
use crate::error::DbError;
use crate::schema::rate_events;
use crate::sql_types::DbTime;

/// Shortest wait ever advertised, so clients never get a zero `Retry-After`.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
/// First pause of a reservation that found the room held by attempts still being checked;
/// doubled after each busy answer up to [`BUSY_PAUSE_MAX`]. An attempt takes one password
/// hash (tens of milliseconds), so this is a few checks per hash and not much store load.
const BUSY_PAUSE_MIN: Duration = Duration::from_millis(5);
/// Longest pause between two tries of a busy reservation.
const BUSY_PAUSE_MAX: Duration = Duration::from_millis(40);

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

    async fn reserve_attempt(
        &self,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> Result<AttemptDecision, StoreError> {
        let tried = until_not_busy(now, patience, |now| {
            let key = key.to_owned();
            let rules = rules.clone();
            async move {
                let decision = dispatch!(self, |c, _db|
                    sqlite => c.immediate_transaction::<_, DbError, _>(async |c| sqlite_reserve(c, &key, &rules, now, hold).await).await,
                    postgres => postgres_reserve(c, &key, &rules, now, hold).await
                )?;
                Ok((decision, ()))
            }
        })
        .await?;
        Ok(tried.0)
    }

    async fn confirm_failure(&self, permit: Permit, at: Timestamp) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            diesel::update(rate_events::table.find(permit.0))
                .set((rate_events::at.eq(DbTime(at)), rate_events::pending_until.eq(None::<DbTime>)))
                .execute(c)
                .await?;
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

/// Runs `try_once` (one try of a reservation, at the time it is given) until its answer is
/// not [`AttemptDecision::Busy`] or `patience` runs out (see [`RateLimiter::reserve_attempt`]),
/// pausing between tries with no connection or lock held.
pub(crate) async fn until_not_busy<T, F, Fut>(
    now: Timestamp,
    patience: Duration,
    mut try_once: F,
) -> Result<(AttemptDecision, T), StoreError>
where
    F: FnMut(Timestamp) -> Fut,
    Fut: Future<Output = Result<(AttemptDecision, T), StoreError>>,
{
    let started = Instant::now();
    let mut pause = BUSY_PAUSE_MIN;
    // Zero until the first wait: the first try is at exactly the caller's `now`, so the
    // reservation's time and expiry are the caller's, not shifted by however long the call
    // took to get here.
    let mut waited = Duration::ZERO;
    loop {
        // The clock moves on while we wait, so expiring reservations are seen expire.
        let tried = try_once(now.plus(waited)).await?;
        if tried.0 != AttemptDecision::Busy || started.elapsed() + pause > patience {
            return Ok(tried);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(BUSY_PAUSE_MAX);
        waited = started.elapsed();
    }
}

/// The sliding-window check in the caller's write transaction (SQLite's `BEGIN IMMEDIATE`
/// already keeps every other writer out until it commits). The PostgreSQL store runs the same
/// algorithm as one SQL function, `portcullis_rate_acquire` (migration 000006).
pub(crate) async fn sqlite_acquire(
    c: &mut SqliteConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
) -> Result<RateDecision, DbError> {
    forget_old(c, key, rules, now).await?;
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
        let until = until_leaves(leaving, window, now);
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

/// Events of `key` a rule looks at no more (older than the longest window).
async fn forget_old(c: &mut SqliteConn, key: &str, rules: &[RateRule], now: Timestamp) -> Result<(), DbError> {
    if let Some(longest) = rules.iter().map(|r| r.window).max() {
        diesel::delete(
            rate_events::table.filter(rate_events::key.eq(key)).filter(rate_events::at.le(DbTime(now.minus(longest)))),
        )
        .execute(c)
        .await?;
    }
    Ok(())
}

/// [`RateLimiter::reserve_attempt`]'s one try, in the caller's `BEGIN IMMEDIATE`
/// transaction. The PostgreSQL store runs the same algorithm as `portcullis_attempt_reserve`
/// (migration 000007).
pub(crate) async fn sqlite_reserve(
    c: &mut SqliteConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
    hold: Duration,
) -> Result<AttemptDecision, DbError> {
    forget_old(c, key, rules, now).await?;
    let mut wait: Option<i64> = None;
    let mut busy = false;
    for rule in rules {
        let window = millis(rule.window);
        let in_window = rate_events::table
            .filter(rate_events::key.eq(key))
            .filter(rate_events::at.gt(DbTime(now.minus(rule.window))));
        let counted =
            in_window.filter(rate_events::pending_until.is_null().or(rate_events::pending_until.le(DbTime(now))));
        let failures: i64 = counted.count().get_result(c).await?;
        let reserved: i64 = in_window.filter(rate_events::pending_until.gt(DbTime(now))).count().get_result(c).await?;
        let max = i64::from(rule.max);
        if failures >= max {
            let leaving: Option<DbTime> = counted
                .order((rate_events::at.asc(), rate_events::id.asc()))
                .select(rate_events::at)
                .offset(failures - max)
                .first(c)
                .await
                .optional()?;
            let until = until_leaves(leaving, window, now);
            wait = Some(wait.map_or(until, |w| w.max(until)));
        } else if failures + reserved >= max {
            busy = true;
        }
    }
    if let Some(wait) = wait {
        return Ok(AttemptDecision::Limited { retry_after: retry_after(wait) });
    }
    if busy {
        return Ok(AttemptDecision::Busy);
    }
    let id: i64 = diesel::insert_into(rate_events::table)
        .values((
            rate_events::key.eq(key),
            rate_events::at.eq(DbTime(now)),
            rate_events::pending_until.eq(Some(DbTime(now.plus(hold)))),
        ))
        .returning(rate_events::id)
        .get_result(c)
        .await?;
    Ok(AttemptDecision::Reserved(Permit(id)))
}

/// What `portcullis_attempt_reserve` answers: a permit, the wait until a failure leaves the
/// window, or busy.
#[derive(QueryableByName)]
pub(crate) struct PgReserved {
    #[diesel(sql_type = Nullable<BigInt>)]
    permit: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    retry_after_ms: Option<i64>,
    #[diesel(sql_type = Bool)]
    busy: bool,
}

impl PgReserved {
    /// The function's answer as a decision.
    pub(crate) fn decision(&self) -> Result<AttemptDecision, DbError> {
        match (self.permit, self.retry_after_ms, self.busy) {
            (Some(id), _, _) => Ok(AttemptDecision::Reserved(Permit(id))),
            (None, Some(wait), _) => Ok(AttemptDecision::Limited { retry_after: retry_after(wait) }),
            (None, None, true) => Ok(AttemptDecision::Busy),
            (None, None, false) => Err(DbError::Internal("portcullis_attempt_reserve answered nothing")),
        }
    }
}

/// The arguments of `portcullis_attempt_reserve` (key, now, windows, maxes, hold), for the
/// first five placeholders of a statement that calls it: one try of
/// [`RateLimiter::reserve_attempt`].
pub(crate) fn reserve_args<'a>(key: &'a str, rules: &[RateRule], now: Timestamp, hold: Duration) -> Vec<Arg<'a>> {
    let mut args = rule_args(key, rules, now);
    args.push(Arg::BigInt(millis(hold)));
    args
}

/// Key, now, windows and maxes: the arguments both rate-limit functions start with, for the
/// first four placeholders of a statement that calls `portcullis_rate_acquire`.
pub(crate) fn rule_args<'a>(key: &'a str, rules: &[RateRule], now: Timestamp) -> Vec<Arg<'a>> {
    vec![
        Arg::Text(key),
        Arg::Time(DbTime(now)),
        Arg::BigInts(rules.iter().map(|r| millis(r.window)).collect()),
        Arg::BigInts(rules.iter().map(|r| i64::from(r.max)).collect()),
    ]
}

/// [`RateLimiter::reserve_attempt`]'s one try in one statement (see `postgres_acquire`).
async fn postgres_reserve(
    c: &mut PgConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
    hold: Duration,
) -> Result<AttemptDecision, DbError> {
    const SQL: &str = "SELECT permit, retry_after_ms, busy FROM portcullis_attempt_reserve(?, ?, ?, ?, ?)";
    let row: PgReserved = CachedSql::new(SQL, reserve_args(key, rules, now, hold)).get_result(c).await?;
    row.decision()
}

/// What `portcullis_rate_acquire` answers: a permit, or the wait until there is room.
#[derive(QueryableByName)]
pub(crate) struct PgAcquired {
    #[diesel(sql_type = Nullable<BigInt>)]
    permit: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    retry_after_ms: Option<i64>,
}

impl PgAcquired {
    /// The function's answer as a decision.
    pub(crate) fn decision(&self) -> Result<RateDecision, DbError> {
        match (self.permit, self.retry_after_ms) {
            (Some(id), _) => Ok(RateDecision::Allowed(Permit(id))),
            (None, Some(wait)) => Ok(limited(wait)),
            (None, None) => Err(DbError::Internal("portcullis_rate_acquire answered neither permit nor wait")),
        }
    }
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
    const SQL: &str = "SELECT permit, retry_after_ms FROM portcullis_rate_acquire(?, ?, ?, ?)";
    let row: PgAcquired = CachedSql::new(SQL, rule_args(key, rules, now)).get_result(c).await?;
    row.decision()
}

/// Milliseconds from `now` until the event at `leaving` is out of a `window_ms` window; a
/// whole window when there is no such event.
fn until_leaves(leaving: Option<DbTime>, window_ms: i64, now: Timestamp) -> i64 {
    leaving.map_or(window_ms, |at| at.0.unix_millis().saturating_add(window_ms).saturating_sub(now.unix_millis()))
}

/// A refusal to wait `wait_ms` milliseconds, never less than [`MIN_RETRY_AFTER`].
fn limited(wait_ms: i64) -> RateDecision {
    RateDecision::Limited { retry_after: retry_after(wait_ms) }
}

/// `wait_ms` as a wait to advertise: never less than [`MIN_RETRY_AFTER`].
fn retry_after(wait_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)).max(MIN_RETRY_AFTER)
}
