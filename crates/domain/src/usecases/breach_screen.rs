//! The breached-password screen every new password passes (registration, reset, change).

use crate::error::InfraError;
use crate::model::NewPassword;
use crate::ports::{BreachedPasswords, Ports};
use crate::service::Portcullis;

/// The screen's verdict on a new password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Screened {
    /// Not refused: unlisted, below the count, not looked up, or the lookup failed open.
    Accepted,
    /// Seen in breaches at least [`crate::policy::BreachPolicy::min_count`] times.
    Breached,
}

impl<P: Ports> Portcullis<P> {
    /// Looks `password` up when the policy screens new passwords. A lookup that fails lets
    /// the password through when the policy fails open, and is a 503
    /// ([`InfraError::Unavailable`]) otherwise. The adapter counts failed lookups; the
    /// domain does not log, so that nothing derived from a password can reach a log line.
    pub(crate) async fn screen_new_password(&self, password: &NewPassword) -> Result<Screened, InfraError> {
        let Some(policy) = self.policy.breach else {
            return Ok(Screened::Accepted);
        };
        match self.breaches.exposure(password.as_password()).await {
            Ok(exposure) if exposure.reaches(policy.min_count) => Ok(Screened::Breached),
            Ok(_) => Ok(Screened::Accepted),
            Err(_) if policy.fail_open => Ok(Screened::Accepted),
            Err(e) => Err(InfraError::Unavailable(Box::new(e))),
        }
    }
}
