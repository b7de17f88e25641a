//! The sliding-window rate limiter.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{AttemptDecision, Change, Permit, RateDecision, RateRule, Store};

use super::T0;

fn rule(window_secs: u64, max: u32) -> RateRule {
    RateRule { window: Duration::from_secs(window_secs), max }
}

fn at(millis: u64) -> Timestamp {
    T0.plus(Duration::from_millis(millis))
}

async fn allowed<S: Store>(store: &S, key: &str, rules: &[RateRule], now: Timestamp) -> Permit {
    match store.acquire(key, rules.to_vec(), now).await.expect("acquire") {
        RateDecision::Allowed(permit) => permit,
        limited => panic!("{key} at {now:?}: expected Allowed, got {limited:?}"),
    }
}

async fn limited<S: Store>(store: &S, key: &str, rules: &[RateRule], now: Timestamp) -> Duration {
    match store.acquire(key, rules.to_vec(), now).await.expect("acquire") {
        RateDecision::Limited { retry_after } => retry_after,
        allowed => panic!("{key} at {now:?}: expected Limited, got {allowed:?}"),
    }
}

/// `max` events fit in the window, each with its own permit; the next one is limited, with
/// `retry_after` = oldest event + window - now.
pub async fn rate_allows_up_to_max_then_limits<S: Store>(store: &S) {
    let rules = [rule(60, 3)];
    let permits = [
        allowed(store, "k", &rules, at(0)).await,
        allowed(store, "k", &rules, at(1_000)).await,
        allowed(store, "k", &rules, at(2_000)).await,
    ];
    assert!(permits[0] != permits[1] && permits[1] != permits[2] && permits[0] != permits[2], "{permits:?}");
    assert_eq!(limited(store, "k", &rules, at(3_000)).await, Duration::from_secs(57));
}

/// `retry_after` counts from the oldest event inside the window, not the newest.
pub async fn rate_retry_after_counts_from_oldest_event<S: Store>(store: &S) {
    let rules = [rule(60, 3)];
    for ms in [0, 10_000, 20_000] {
        allowed(store, "k", &rules, at(ms)).await;
    }
    assert_eq!(limited(store, "k", &rules, at(30_000)).await, Duration::from_secs(30));
    assert_eq!(limited(store, "k", &rules, at(45_000)).await, Duration::from_secs(15));
}

/// A rule tightened after its window filled waits for the event that takes the count back
/// under the new maximum, not for the oldest one; sub-second timestamps count exactly.
pub async fn rate_tightened_rule_waits_for_enough_events_to_leave<S: Store>(store: &S) {
    let loose = [rule(60, 5)];
    for ms in [0, 10_000, 20_000, 30_250, 40_000] {
        allowed(store, "k", &loose, at(ms)).await;
    }
    // Five in the window and room below two: four must leave, the fourth at 30.25 s + 60 s.
    assert_eq!(limited(store, "k", &[rule(60, 2)], at(45_000)).await, Duration::from_millis(45_250));
}

/// `retry_after` is never below one second.
pub async fn rate_retry_after_is_at_least_one_second<S: Store>(store: &S) {
    let rules = [rule(60, 1)];
    allowed(store, "k", &rules, at(0)).await;
    assert_eq!(limited(store, "k", &rules, at(59_500)).await, Duration::from_secs(1));
    assert_eq!(limited(store, "k", &rules, at(59_999)).await, Duration::from_secs(1));
}

/// The window slides: an event stops counting once it is older than the window.
pub async fn rate_events_leave_the_window<S: Store>(store: &S) {
    let rules = [rule(60, 2)];
    allowed(store, "k", &rules, at(0)).await;
    allowed(store, "k", &rules, at(30_000)).await;
    assert_eq!(limited(store, "k", &rules, at(59_000)).await, Duration::from_secs(1));
    allowed(store, "k", &rules, at(60_001)).await;
    assert_eq!(limited(store, "k", &rules, at(61_000)).await, Duration::from_secs(29));
    allowed(store, "k", &rules, at(200_000)).await;
    allowed(store, "k", &rules, at(200_000)).await;
}

/// A limited call counts nothing.
pub async fn rate_limited_call_counts_nothing<S: Store>(store: &S) {
    let rules = [rule(60, 1)];
    allowed(store, "k", &rules, at(0)).await;
    for ms in [10_000, 20_000, 59_000] {
        limited(store, "k", &rules, at(ms)).await;
    }
    allowed(store, "k", &rules, at(60_001)).await;
}

/// `release` un-counts its event (once; releasing again is harmless).
pub async fn rate_release_frees_a_slot<S: Store>(store: &S) {
    let rules = [rule(60, 2)];
    let first = allowed(store, "k", &rules, at(0)).await;
    allowed(store, "k", &rules, at(1_000)).await;
    limited(store, "k", &rules, at(2_000)).await;
    store.release(first).await.expect("release");
    let third = allowed(store, "k", &rules, at(3_000)).await;
    limited(store, "k", &rules, at(4_000)).await;
    store.release(first).await.expect("second release");
    limited(store, "k", &rules, at(5_000)).await;
    store.release(third).await.expect("release");
    allowed(store, "k", &rules, at(6_000)).await;
}

/// Every rule must have room; when several are full, `retry_after` is the longest wait.
pub async fn rate_multiple_rules<S: Store>(store: &S) {
    let rules = [rule(60, 1), rule(3_600, 3)];
    allowed(store, "k", &rules, at(0)).await;
    assert_eq!(limited(store, "k", &rules, at(30_000)).await, Duration::from_secs(30));
    allowed(store, "k", &rules, at(61_000)).await;
    allowed(store, "k", &rules, at(122_000)).await;
    // Both full: the minute frees at 182 s, the hour at 3600 s.
    assert_eq!(limited(store, "k", &rules, at(150_000)).await, Duration::from_secs(3_450));
    // Only the hour full.
    assert_eq!(limited(store, "k", &rules, at(200_000)).await, Duration::from_secs(3_400));
    allowed(store, "k", &rules, at(3_600_001)).await;
}

/// Keys count separately.
pub async fn rate_keys_are_independent<S: Store>(store: &S) {
    let rules = [rule(60, 1)];
    allowed(store, "login:laura@example.com", &rules, at(0)).await;
    allowed(store, "login:ana@example.com", &rules, at(0)).await;
    allowed(store, "ip:81.2.69.142", &rules, at(0)).await;
    limited(store, "login:laura@example.com", &rules, at(1)).await;
}

/// Twenty-four concurrent acquires with room for five: exactly five are allowed.
pub async fn rate_acquire_is_atomic<S: Store>(store: &S) {
    let rules = vec![rule(60, 5)];
    let results = join_all((0..24).map(|_| store.acquire("k", rules.clone(), at(0)))).await;
    let allowed = results.iter().filter(|r| matches!(r, Ok(RateDecision::Allowed(_)))).count();
    let limited = results.iter().filter(|r| matches!(r, Ok(RateDecision::Limited { .. }))).count();
    assert_eq!((allowed, limited), (5, 19), "{results:?}");
}

/// `purge_rate_events` deletes events older than `before` (one stamped exactly at `before`
/// stays), and says how many.
pub async fn rate_purge_deletes_old_events<S: Store>(store: &S) {
    let rules = [rule(3_600, 3)];
    for ms in [0, 10_000, 20_000] {
        allowed(store, "k", &rules, at(ms)).await;
    }
    allowed(store, "other", &rules, at(0)).await;
    assert_eq!(store.purge_rate_events(at(15_000)).await.expect("purge"), 3);
    assert_eq!(store.purge_rate_events(at(20_000)).await.expect("purge"), 0, "an event at `before` is not older");
    allowed(store, "k", &rules, at(30_000)).await;
    allowed(store, "k", &rules, at(30_000)).await;
    limited(store, "k", &rules, at(30_000)).await;
}

/// How long the reservations of these cases hold before they count as failures.
const HOLD: Duration = Duration::from_secs(30);

async fn reserve<S: Store>(store: &S, key: &str, rules: &[RateRule], now: Timestamp) -> AttemptDecision {
    store.reserve_attempt(key, rules.to_vec(), now, HOLD, Duration::ZERO).await.expect("reserve_attempt")
}

async fn reserved<S: Store>(store: &S, key: &str, rules: &[RateRule], now: Timestamp) -> Permit {
    match reserve(store, key, rules, now).await {
        AttemptDecision::Reserved(permit) => permit,
        other => panic!("{key} at {now:?}: expected Reserved, got {other:?}"),
    }
}

/// A reservation holds room until it is resolved: released, it frees its slot; confirmed,
/// it counts as a failure, and failures alone decide `Limited` and its wait.
pub async fn rate_reservations_hold_room_until_resolved<S: Store>(store: &S) {
    let rules = [rule(60, 3)];
    let first = reserved(store, "login:a", &rules, at(0)).await;
    let second = reserved(store, "login:a", &rules, at(1_000)).await;
    let third = reserved(store, "login:a", &rules, at(2_000)).await;
    assert_eq!(reserve(store, "login:a", &rules, at(3_000)).await, AttemptDecision::Busy);
    store.release(second).await.expect("release");
    let fourth = reserved(store, "login:a", &rules, at(4_000)).await;
    assert_eq!(reserve(store, "login:a", &rules, at(5_000)).await, AttemptDecision::Busy);
    for (permit, ms) in [(first, 5_000), (third, 5_200), (fourth, 5_400)] {
        store.confirm_failure(permit, at(ms)).await.expect("confirm");
    }
    // Three failures, counted from when they failed (5, 5.2 and 5.4 s), not from their
    // reservations: room when the one at 5 s leaves.
    assert_eq!(
        reserve(store, "login:a", &rules, at(6_000)).await,
        AttemptDecision::Limited { retry_after: Duration::from_secs(59) }
    );
}

/// Failures plus pending reservations that fill a window are `Busy`, not `Limited`: only
/// failures refuse, and `retry_after` counts from them.
pub async fn rate_pending_reservations_never_limit<S: Store>(store: &S) {
    let rules = [rule(60, 2)];
    let failed = reserved(store, "login:a", &rules, at(0)).await;
    store.confirm_failure(failed, at(0)).await.expect("confirm");
    let pending = reserved(store, "login:a", &rules, at(10_000)).await;
    assert_eq!(reserve(store, "login:a", &rules, at(20_000)).await, AttemptDecision::Busy);
    store.confirm_failure(pending, at(20_000)).await.expect("confirm");
    assert_eq!(
        reserve(store, "login:a", &rules, at(20_000)).await,
        AttemptDecision::Limited { retry_after: Duration::from_secs(40) }
    );
    // Plain `acquire` on another key knows nothing of reservations.
    allowed(store, "ip:a", &rules, at(20_000)).await;
}

/// A reservation nobody resolved within its hold counts as a failure (fail closed), from
/// the time it was reserved.
pub async fn rate_expired_reservation_counts_as_a_failure<S: Store>(store: &S) {
    let rules = [rule(60, 1)];
    reserved(store, "login:a", &rules, at(0)).await;
    assert_eq!(reserve(store, "login:a", &rules, at(29_999)).await, AttemptDecision::Busy);
    assert_eq!(
        reserve(store, "login:a", &rules, at(30_000)).await,
        AttemptDecision::Limited { retry_after: Duration::from_secs(30) }
    );
    reserved(store, "login:a", &rules, at(60_001)).await;
}

/// `Change::ClearFailures` deletes the key's counted failures (expired reservations too) in a
/// commit, and keeps pending reservations and other keys' events.
pub async fn rate_clear_failures_keeps_pending_reservations<S: Store>(store: &S) {
    let rules = [rule(60, 3)];
    for ms in [0, 1_000] {
        let permit = reserved(store, "login:a", &rules, at(ms)).await;
        store.confirm_failure(permit, at(ms)).await.expect("confirm");
    }
    let pending = reserved(store, "login:a", &rules, at(2_000)).await;
    for ms in [0, 1_000, 2_000] {
        let permit = reserved(store, "login:b", &rules, at(ms)).await;
        store.confirm_failure(permit, at(ms)).await.expect("confirm");
    }
    store.commit(vec![Change::ClearFailures { key: "login:a".to_owned(), at: at(3_000) }]).await.expect("commit");
    // Left: the pending reservation; two more fit.
    reserved(store, "login:a", &rules, at(3_000)).await;
    reserved(store, "login:a", &rules, at(3_000)).await;
    assert_eq!(reserve(store, "login:a", &rules, at(3_000)).await, AttemptDecision::Busy);
    store.confirm_failure(pending, at(3_500)).await.expect("confirm");
    assert!(matches!(reserve(store, "login:b", &rules, at(3_000)).await, AttemptDecision::Limited { .. }));
}

/// A failure confirmed after a clear's `at` stays, even when its reservation is older: the
/// guess failed while the owner's login was finishing, and lifting the lockout must not
/// hand its slot back.
pub async fn rate_clear_keeps_failures_confirmed_after_it<S: Store>(store: &S) {
    let rules = [rule(60, 2)];
    let racing = reserved(store, "login:c", &rules, at(0)).await;
    store.confirm_failure(racing, at(2_000)).await.expect("confirm");
    store.commit(vec![Change::ClearFailures { key: "login:c".to_owned(), at: at(1_000) }]).await.expect("commit");
    let next = reserved(store, "login:c", &rules, at(2_000)).await;
    store.confirm_failure(next, at(2_000)).await.expect("confirm");
    assert!(matches!(reserve(store, "login:c", &rules, at(3_000)).await, AttemptDecision::Limited { .. }));
    // A clear from after both failures lifts them.
    store.commit(vec![Change::ClearFailures { key: "login:c".to_owned(), at: at(3_000) }]).await.expect("commit");
    reserved(store, "login:c", &rules, at(3_000)).await;
}

/// Twenty-four concurrent reservations with room for five: exactly five are reserved, the
/// rest are told the room is busy.
pub async fn rate_reserve_attempt_is_atomic<S: Store>(store: &S) {
    let rules = vec![rule(60, 5)];
    let results =
        join_all((0..24).map(|_| store.reserve_attempt("k", rules.clone(), at(0), HOLD, Duration::ZERO))).await;
    let reserved = results.iter().filter(|r| matches!(r, Ok(AttemptDecision::Reserved(_)))).count();
    let busy = results.iter().filter(|r| matches!(r, Ok(AttemptDecision::Busy))).count();
    assert_eq!((reserved, busy), (5, 19), "{results:?}");
}

/// With patience, a reservation that finds the room busy waits for it: once another attempt
/// is released, it gets the slot instead of an answer of `Busy`.
pub async fn rate_busy_reservation_waits_for_a_release<S: Store>(store: &S) {
    let rules = vec![rule(60, 1)];
    let holder = reserved(store, "k", &rules, at(0)).await;
    let waiter = store.reserve_attempt("k", rules.clone(), at(0), HOLD, Duration::from_secs(20));
    let releaser = async {
        // The room is full while the waiter waits...
        assert_eq!(reserve(store, "k", &rules, at(0)).await, AttemptDecision::Busy);
        store.release(holder).await.expect("release");
    };
    let (decision, ()) = futures_util::future::join(waiter, releaser).await;
    assert!(matches!(decision, Ok(AttemptDecision::Reserved(_))), "{decision:?}");
    // ... and the waiter's reservation now holds it.
    assert_eq!(reserve(store, "k", &rules, at(0)).await, AttemptDecision::Busy);
}
