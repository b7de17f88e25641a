//! [`RateLimiter`]: sliding windows over one row per counted event.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{Permit, RateDecision, RateLimiter, RateRule, StoreError};

use crate::DieselStore;
use crate::detached::{with_conn, write_tx};
use crate::schema::rate_events;
use crate::sql_types::DbTime;

/// Shortest wait ever advertised, so clients never get a zero `Retry-After`.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RateLimiter for DieselStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        let key = key.to_owned();
        let longest = rules.iter().map(|r| r.window).max();
        // Count and insert in one write transaction, with the key's writers serialised (SQLite:
        // every writer; PostgreSQL: an advisory lock on the key), so of N concurrent callers
        // with room for k exactly k see room.
        let decision = write_tx!(self, |c, db| {
            db::lock_rate_key(c, &key).await?;
            if let Some(longest) = longest {
                // Events no rule looks at any more.
                diesel::delete(
                    rate_events::table
                        .filter(rate_events::key.eq(&key))
                        .filter(rate_events::at.le(DbTime(now.minus(longest)))),
                )
                .execute(c)
                .await?;
            }
            let mut wait: Option<i64> = None;
            for rule in &rules {
                let window = millis(rule.window);
                let since = DbTime(now.minus(rule.window));
                let in_window = rate_events::table.filter(rate_events::key.eq(&key)).filter(rate_events::at.gt(since));
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
                let until = leaving
                    .map_or(window, |at| at.0.unix_millis().saturating_add(window).saturating_sub(now.unix_millis()));
                wait = Some(wait.map_or(until, |w| w.max(until)));
            }
            if let Some(wait) = wait {
                let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
                return Ok(RateDecision::Limited { retry_after: wait.max(MIN_RETRY_AFTER) });
            }
            let id: i64 = diesel::insert_into(rate_events::table)
                .values((rate_events::key.eq(&key), rate_events::at.eq(DbTime(now))))
                .returning(rate_events::id)
                .get_result(c)
                .await?;
            Ok(RateDecision::Allowed(Permit(id)))
        })?;
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
