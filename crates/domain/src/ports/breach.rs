//! The breached-password port: how often a password appears in known breaches.
//!
//! The domain decides what to do with the answer ([`crate::policy::BreachPolicy`]: refuse at
//! a count, fail open or closed); the adapter decides how to find out (Have I Been Pwned's
//! range API by k-anonymity, a local filter file, or nothing at all).

use crate::model::Password;

/// What a breach source knows about one password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// Not in the source (or, for a filter, below the count it was built with).
    Unlisted,
    /// Seen this many times (a range API answers with counts).
    Seen {
        /// Occurrences in the source's breaches.
        times: u64,
    },
    /// In a source that keeps membership only (a filter file built with a threshold): seen at
    /// least `threshold` times.
    Listed {
        /// The count the source was built with; every member was seen at least this often.
        threshold: u64,
    },
}

impl Exposure {
    /// Whether the password reaches `min_count` occurrences as far as this answer tells.
    /// A filter member counts as reaching every `min_count` up to its threshold; above it the
    /// filter cannot tell, and the answer is taken at face value (`threshold` occurrences).
    ///
    /// ```
    /// use portcullis_domain::ports::Exposure;
    /// assert!(Exposure::Seen { times: 3 }.reaches(3));
    /// assert!(!Exposure::Seen { times: 2 }.reaches(3));
    /// assert!(Exposure::Listed { threshold: 5 }.reaches(1));
    /// assert!(!Exposure::Unlisted.reaches(1));
    /// ```
    pub fn reaches(self, min_count: u64) -> bool {
        match self {
            Exposure::Unlisted => false,
            Exposure::Seen { times } => times >= min_count,
            Exposure::Listed { threshold } => threshold >= min_count,
        }
    }
}

/// Why a lookup gave no answer. Carries no part of the password or its hash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BreachLookupError {
    /// The source did not answer in time.
    #[error("breach lookup timed out")]
    Timeout,
    /// The source could not be reached or answered with an error.
    #[error("breach source unavailable: {0}")]
    Unavailable(String),
    /// The source answered something that is not a range answer.
    #[error("breach source answered malformed data: {0}")]
    Malformed(String),
}

/// A source of breached passwords.
///
/// An implementation must never log, store or return the password or its full hash; the
/// range adapter sends only the first 5 hex characters of its SHA-1.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[trait_variant::make(Send)]
pub trait BreachedPasswords: Send + Sync + 'static {
    /// How often `password` was seen in breaches.
    async fn exposure(&self, password: &Password) -> Result<Exposure, BreachLookupError>;
}

/// The source for deployments without breach checks: every password is unlisted, and no
/// lookup leaves the process. The domain does not call the port at all when
/// [`crate::Policy::breach`] is `None`; this is the type to name for it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBreachSource;

impl BreachedPasswords for NoBreachSource {
    async fn exposure(&self, _password: &Password) -> Result<Exposure, BreachLookupError> {
        Ok(Exposure::Unlisted)
    }
}
