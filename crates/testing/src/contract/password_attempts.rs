//! [`PasswordAttempts`](portcullis_domain::ports::PasswordAttempts) and
//! [`Change::ReleasePermit`]: a login's reservation or a mail allowance with its account, and
//! the reservation given back inside a commit.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{Email, Timestamp, User};
use portcullis_domain::ports::{AttemptDecision, Change, Permit, RateDecision, RateRule, Store, StoreError};

use super::{T0, commit_ok, insert_user};
use crate::fixtures;

const HOLD: Duration = Duration::from_secs(30);
const KEY: &str = "login:laura@example.com";

fn rules(max: u32) -> Vec<RateRule> {
    vec![RateRule { window: Duration::from_secs(60), max }]
}

fn at(millis: u64) -> Timestamp {
    T0.plus(Duration::from_millis(millis))
}

async fn reserve_reading<S: Store>(
    store: &S,
    email: &Email,
    max: u32,
    now: Timestamp,
) -> (AttemptDecision, Option<User>) {
    store
        .reserve_attempt_reading_user(email, KEY, rules(max), now, HOLD, Duration::ZERO)
        .await
        .expect("reserve_attempt_reading_user")
}

fn permit(decision: AttemptDecision) -> Permit {
    match decision {
        AttemptDecision::Reserved(permit) => permit,
        other => panic!("expected Reserved, got {other:?}"),
    }
}

/// The decision is `reserve_attempt`'s, and the account comes with it: the same as
/// `user_by_email` reads when reserved and when limited, `None` for an unknown address.
pub async fn attempt_reading_user_brings_the_account<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (decision, user) = reserve_reading(store, &laura.email, 2, at(0)).await;
    assert_eq!(user.as_ref(), Some(&laura));
    store.confirm_failure(permit(decision), at(0)).await.expect("confirm");
    let (decision, user) = reserve_reading(store, &laura.email, 2, at(1_000)).await;
    assert_eq!(user.as_ref(), Some(&laura));
    store.confirm_failure(permit(decision), at(1_000)).await.expect("confirm");
    // Two failures fill the rule: limited, counted from the first, and the account is there
    // to audit the refusal on.
    let (decision, user) = reserve_reading(store, &laura.email, 2, at(2_000)).await;
    assert_eq!(decision, AttemptDecision::Limited { retry_after: Duration::from_secs(58) });
    assert_eq!(user, Some(laura));

    // Every field comes back, nullable ones set included.
    let mut ana = fixtures::user("ana@example.com", T0);
    ana.profile_picture = Some("https://cdn.example.com/ana.png".to_owned());
    ana.deleted_at = Some(T0.plus(Duration::from_secs(9)));
    commit_ok(store, vec![Change::InsertUser(ana.clone())]).await;
    let (_, user) = store
        .reserve_attempt_reading_user(&ana.email, "login:ana@example.com", rules(2), at(0), HOLD, Duration::ZERO)
        .await
        .expect("reserve_attempt_reading_user");
    assert_eq!(user, Some(ana));

    let nobody = fixtures::email("nobody@example.com");
    let (decision, user) = store
        .reserve_attempt_reading_user(&nobody, "login:nobody@example.com", rules(2), at(0), HOLD, Duration::ZERO)
        .await
        .expect("reserve_attempt_reading_user");
    assert!(matches!(decision, AttemptDecision::Reserved(_)), "{decision:?}");
    assert_eq!(user, None);
}

/// Twenty-four concurrent calls with room for five: exactly five are reserved, each with
/// the account; the rest are busy.
pub async fn attempt_reading_user_is_atomic<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let results = join_all(
        (0..24).map(|_| store.reserve_attempt_reading_user(&laura.email, KEY, rules(5), at(0), HOLD, Duration::ZERO)),
    )
    .await;
    let reserved: Vec<_> = results.iter().filter(|r| matches!(r, Ok((AttemptDecision::Reserved(_), _)))).collect();
    let busy = results.iter().filter(|r| matches!(r, Ok((AttemptDecision::Busy, _)))).count();
    assert_eq!((reserved.len(), busy), (5, 19), "{results:?}");
    assert!(reserved.iter().all(|r| matches!(r, Ok((_, Some(u))) if *u == laura)), "{reserved:?}");
}

/// The decision is `acquire`'s, and the account comes with it whether the call is allowed or
/// limited; `None` for an unknown address.
pub async fn acquire_reading_user_brings_the_account_either_way<S: Store>(store: &S) {
    const MAIL: &str = "resend:laura@example.com";
    let laura = insert_user(store, "laura@example.com").await;
    let acquire = |now| store.acquire_reading_user(&laura.email, MAIL, rules(1), now);
    let (decision, user) = acquire(at(0)).await.expect("acquire_reading_user");
    assert!(matches!(decision, RateDecision::Allowed(_)), "{decision:?}");
    assert_eq!(user.as_ref(), Some(&laura));
    let (decision, user) = acquire(at(1_000)).await.expect("acquire_reading_user");
    assert_eq!(decision, RateDecision::Limited { retry_after: Duration::from_secs(59) });
    assert_eq!(user.as_ref(), Some(&laura));
    // The limited call counted nothing: room again once the first one leaves the window.
    let (decision, _) = acquire(at(60_001)).await.expect("acquire_reading_user");
    assert!(matches!(decision, RateDecision::Allowed(_)), "{decision:?}");

    let nobody = fixtures::email("nobody@example.com");
    let (decision, user) = store
        .acquire_reading_user(&nobody, "resend:nobody@example.com", rules(1), at(0))
        .await
        .expect("acquire_reading_user");
    assert!(matches!(decision, RateDecision::Allowed(_)), "{decision:?}");
    assert_eq!(user, None);
}

/// Twenty-four concurrent calls with room for five: exactly five are allowed, and every one
/// brings the account.
pub async fn acquire_reading_user_is_atomic<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let results = join_all(
        (0..24).map(|_| store.acquire_reading_user(&laura.email, "resend:laura@example.com", rules(5), at(0))),
    )
    .await;
    let allowed = results.iter().filter(|r| matches!(r, Ok((RateDecision::Allowed(_), _)))).count();
    let limited = results.iter().filter(|r| matches!(r, Ok((RateDecision::Limited { .. }, _)))).count();
    assert_eq!((allowed, limited), (5, 19), "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok((_, Some(u))) if *u == laura)), "{results:?}");
}

/// `Change::ReleasePermit` in a commit frees the slot as `release` does, along with the
/// commit's other changes; an unknown permit is a no-op.
pub async fn release_permit_in_a_commit_frees_the_slot<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let held = permit(store.reserve_attempt(KEY, rules(1), at(0), HOLD, Duration::ZERO).await.expect("reserve"));
    assert_eq!(
        store.reserve_attempt(KEY, rules(1), at(0), HOLD, Duration::ZERO).await.expect("reserve"),
        AttemptDecision::Busy
    );
    let session = fixtures::session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(session.clone()), Change::ReleasePermit(held)]).await;
    assert!(store.session_with_user(session.id).await.expect("read").is_some());
    let next = permit(store.reserve_attempt(KEY, rules(1), at(1_000), HOLD, Duration::ZERO).await.expect("reserve"));
    assert_ne!(next, held);
    // Released twice, or never reserved: nothing happens, and the live reservation stays.
    commit_ok(store, vec![Change::ReleasePermit(held), Change::ReleasePermit(Permit(i64::MAX))]).await;
    assert_eq!(
        store.reserve_attempt(KEY, rules(1), at(1_000), HOLD, Duration::ZERO).await.expect("reserve"),
        AttemptDecision::Busy
    );
}

/// A commit that fails releases nothing: the reservation still holds its room.
pub async fn release_permit_in_a_failed_commit_is_not_applied<S: Store>(store: &S) {
    insert_user(store, "laura@example.com").await;
    let held = permit(store.reserve_attempt(KEY, rules(1), at(0), HOLD, Duration::ZERO).await.expect("reserve"));
    let duplicate = fixtures::user("laura@example.com", T0);
    let err = store
        .commit(vec![Change::ReleasePermit(held), Change::InsertUser(duplicate)])
        .await
        .expect_err("duplicate accepted");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
    assert_eq!(
        store.reserve_attempt(KEY, rules(1), at(0), HOLD, Duration::ZERO).await.expect("reserve"),
        AttemptDecision::Busy
    );
}
