//! [`FakeBreaches`]: a [`BreachedPasswords`] source holding a few passwords in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachLookupError, BreachedPasswords, Exposure};

/// How the fake answers the next lookups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BreachSourceState {
    /// Answers from its list.
    #[default]
    Up,
    /// Every lookup times out (at once: the fake does not wait).
    TimingOut,
}

#[derive(Default)]
struct Inner {
    seen: HashMap<String, u64>,
    state: BreachSourceState,
    lookups: usize,
}

impl std::fmt::Debug for Inner {
    /// Counts only: the listed passwords stay out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeBreaches")
            .field("listed", &self.seen.len())
            .field("state", &self.state)
            .field("lookups", &self.lookups)
            .finish()
    }
}

/// A breach source of listed passwords and their counts, like the range API's answers, and
/// an outage switch. Clones share the list, the switch and the lookup counter.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use portcullis_domain::model::Password;
/// use portcullis_domain::ports::{BreachedPasswords, Exposure};
/// use portcullis_testing::fakes::FakeBreaches;
///
/// let source = FakeBreaches::default();
/// source.list("correct horse battery staple", 3);
/// let exposure = source.exposure(&Password::new("correct horse battery staple")).await.unwrap();
/// assert_eq!(exposure, Exposure::Seen { times: 3 });
/// assert_eq!(source.lookups(), 1);
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeBreaches(Arc<Mutex<Inner>>);

impl FakeBreaches {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lists `password` as seen `times` times.
    pub fn list(&self, password: &str, times: u64) {
        self.inner().seen.insert(password.to_owned(), times);
    }

    /// Switches the source up or down.
    pub fn set_state(&self, state: BreachSourceState) {
        self.inner().state = state;
    }

    /// Lookups made so far, answered or not.
    pub fn lookups(&self) -> usize {
        self.inner().lookups
    }
}

impl BreachedPasswords for FakeBreaches {
    async fn exposure(&self, password: &Password) -> Result<Exposure, BreachLookupError> {
        let mut inner = self.inner();
        inner.lookups += 1;
        if inner.state == BreachSourceState::TimingOut {
            return Err(BreachLookupError::Timeout);
        }
        Ok(match inner.seen.get(password.expose()) {
            Some(&times) => Exposure::Seen { times },
            None => Exposure::Unlisted,
        })
    }
}
