//! The sliding-window rate limiter: events per key, counted and checked under one lock.

use std::time::Duration;

use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{Permit, RateDecision, RateLimiter, RateRule, StoreError};

use super::{InMemoryStore, RateEvent};

/// How long until `rule` has room again, or `None` when it has room now.
///
/// An event at `t` is inside the window while `now < t + window`. With `n >= max` events
/// inside, the `(n - max + 1)`-th oldest must leave; with `n == max` that is the oldest.
fn wait_for(rule: RateRule, mut inside: Vec<Timestamp>, now: Timestamp) -> Option<Duration> {
    let max = usize::try_from(rule.max).unwrap_or(usize::MAX);
    if inside.len() < max {
        return None;
    }
    if max == 0 {
        // Nothing ever fits: say "a full window", the longest any event could block.
        return Some(rule.window.max(Duration::from_secs(1)));
    }
    inside.sort();
    let leaving = inside[inside.len() - max];
    Some(now.until(leaving.plus(rule.window)).max(Duration::from_secs(1)))
}

impl RateLimiter for InMemoryStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let mut retry_after: Option<Duration> = None;
        for rule in rules {
            let start = now.minus(rule.window);
            let inside = state
                .rate_events
                .iter()
                .filter(|e| e.key == key && e.at > start && e.at <= now)
                .map(|e| e.at)
                .collect();
            if let Some(wait) = wait_for(rule, inside, now) {
                retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
            }
        }
        if let Some(retry_after) = retry_after {
            return Ok(RateDecision::Limited { retry_after });
        }
        state.next_rate_id += 1;
        let id = state.next_rate_id;
        state.rate_events.push(RateEvent { id, key: key.to_owned(), at: now });
        Ok(RateDecision::Allowed(Permit(id)))
    }

    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        self.enter().await?;
        self.lock().rate_events.retain(|e| e.id != permit.0);
        Ok(())
    }

    async fn purge_rate_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let old = state.rate_events.len();
        state.rate_events.retain(|e| e.at >= before);
        Ok((old - state.rate_events.len()) as u64)
    }
}
