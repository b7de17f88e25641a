//! The sliding-window rate limiter: events per key, counted and checked under one lock.

use std::time::{Duration, Instant};

use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{
    AttemptDecision, PasswordAttempts, Permit, RateDecision, RateLimiter, RateRule, StoreError,
};

use super::{InMemoryStore, RateEvent, State, YieldOnce};

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

/// The events of `key` inside `rule`'s window at `now` that `keep` selects. Like the SQL
/// stores, events stamped after `now` count too: callers' clocks (instances, a failure
/// confirmed after a reservation's time) need not agree to the millisecond.
fn inside(
    state: &State,
    key: &str,
    rule: RateRule,
    now: Timestamp,
    keep: impl Fn(&RateEvent) -> bool,
) -> Vec<Timestamp> {
    let start = now.minus(rule.window);
    state.rate_events.iter().filter(|e| e.key == key && e.at > start && keep(e)).map(|e| e.at).collect()
}

/// The longest of the waits, or `None` when every rule has room.
fn longest(waits: impl Iterator<Item = Option<Duration>>) -> Option<Duration> {
    waits.flatten().max()
}

impl State {
    fn push_event(&mut self, key: &str, at: Timestamp, pending_until: Option<Timestamp>) -> Permit {
        self.next_rate_id += 1;
        let id = self.next_rate_id;
        self.rate_events.push(RateEvent { id, key: key.to_owned(), at, pending_until });
        Permit(id)
    }

    /// One try of [`RateLimiter::reserve_attempt`], under the lock.
    fn try_reserve(&mut self, key: &str, rules: &[RateRule], now: Timestamp, hold: Duration) -> AttemptDecision {
        let failures = |rule: RateRule| inside(self, key, rule, now, |e| !e.pending_at(now));
        if let Some(retry_after) = longest(rules.iter().map(|&r| wait_for(r, failures(r), now))) {
            return AttemptDecision::Limited { retry_after };
        }
        let all = |rule: RateRule| inside(self, key, rule, now, |_| true);
        if longest(rules.iter().map(|&r| wait_for(r, all(r), now))).is_some() {
            return AttemptDecision::Busy;
        }
        AttemptDecision::Reserved(self.push_event(key, now, Some(now.plus(hold))))
    }
}

impl RateLimiter for InMemoryStore {
    async fn acquire(&self, key: &str, rules: Vec<RateRule>, now: Timestamp) -> Result<RateDecision, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let retry_after = longest(rules.iter().map(|&r| wait_for(r, inside(&state, key, r, now, |_| true), now)));
        if let Some(retry_after) = retry_after {
            return Ok(RateDecision::Limited { retry_after });
        }
        Ok(RateDecision::Allowed(state.push_event(key, now, None)))
    }

    async fn release(&self, permit: Permit) -> Result<(), StoreError> {
        self.enter().await?;
        self.lock().rate_events.retain(|e| e.id != permit.0);
        Ok(())
    }

    /// Waits by yielding to the executor and asking again (this store has no timer), until
    /// `patience` of wall-clock time has passed; the fake clock's `now` stays as given.
    async fn reserve_attempt(
        &self,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> Result<AttemptDecision, StoreError> {
        let deadline = Instant::now() + patience;
        loop {
            self.enter().await?;
            let decision = self.lock().try_reserve(key, &rules, now, hold);
            if decision != AttemptDecision::Busy || Instant::now() >= deadline {
                return Ok(decision);
            }
            YieldOnce(false).await;
        }
    }

    async fn confirm_failure(&self, permit: Permit, at: Timestamp) -> Result<(), StoreError> {
        self.enter().await?;
        if let Some(event) = self.lock().rate_events.iter_mut().find(|e| e.id == permit.0) {
            (event.at, event.pending_until) = (at, None);
        }
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

/// The provided two calls: this store has no round trips to save, and the contract suite
/// checks the provided method through it.
impl PasswordAttempts for InMemoryStore {}
