//! [`ManualClock`]: time that moves only when a test moves it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::Clock;

/// 2026-03-08T04:46:25.344Z, the instant the contract's examples show; where every fake
/// clock starts unless told otherwise.
pub const T0: Timestamp = Timestamp::from_unix_millis(1_772_945_185_344);

/// A settable clock. Clones share the same time, so a test keeps a handle and moves the
/// service's clock with it.
#[derive(Clone, Debug)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self { millis: Arc::new(AtomicI64::new(now.unix_millis())) }
    }

    /// Moves the clock to `now` (backwards too).
    pub fn set(&self, now: Timestamp) {
        self.millis.store(now.unix_millis(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `d` and returns the new time.
    pub fn advance(&self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_unix_millis(self.millis.fetch_add(ms, Ordering::SeqCst).saturating_add(ms))
    }
}

impl Default for ManualClock {
    /// A clock stopped at [`T0`].
    fn default() -> Self {
        Self::new(T0)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.millis.load(Ordering::SeqCst))
    }
}
