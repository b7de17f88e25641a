//! Answers whose timing must not tell whether an address has an account.
//!
//! `POST /auth/forgot-password`, `/auth/resend-verification` and `/auth/login/code` answer
//! alike for every address, but only for an account is there work to do: a code, a queued
//! mail and an audit entry, written in one transaction. That transaction is a store round
//! trip the other addresses do not make, so over enough tries the time of the answer would
//! tell what its body does not. `/auth/login/code/verify` has the same difference: a wrong
//! code for an account is checked and audited, one for an unknown address is not. (The
//! password login evens its two paths out with a hash of a dummy password instead.)
//!
//! Their handlers hold the answer until [`ENUMERATION_FLOOR`] has passed since the use case
//! began. The work takes a few milliseconds, so both kinds of address answer at the floor;
//! only a store slower than the floor (an overloaded one) lets the difference show again.

use std::future::Future;
use std::time::Duration;

/// The least time the answers above take. Well above a healthy store's transaction (a few
/// milliseconds on either database) and well below what a person asking for a mailed code
/// notices.
pub const ENUMERATION_FLOOR: Duration = Duration::from_millis(100);

/// Runs `work`, then waits until `floor` has passed since the call; work that took longer
/// is answered at once.
pub(crate) async fn no_sooner_than<T>(floor: Duration, work: impl Future<Output = T>) -> T {
    let until = tokio::time::Instant::now() + floor;
    let out = work.await;
    tokio::time::sleep_until(until).await;
    out
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn quick_work_is_answered_at_the_floor() {
        let start = Instant::now();
        let out = no_sooner_than(ENUMERATION_FLOOR, async { 7 }).await;
        assert_eq!(out, 7);
        assert_eq!(start.elapsed(), ENUMERATION_FLOOR);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_work_is_answered_when_it_ends() {
        let start = Instant::now();
        let slow = ENUMERATION_FLOOR * 3;
        no_sooner_than(ENUMERATION_FLOOR, tokio::time::sleep(slow)).await;
        assert_eq!(start.elapsed(), slow);
    }
}
