//! What operators and background jobs need: readiness, housekeeping and the mail queue's
//! state, so that a server never reaches past the use cases into the store.

use crate::error::InfraError;
use crate::ports::{FactorRepository, MailOutbox, Ports, RateLimiter, SessionRepository, StoreHealth};
use crate::service::Portcullis;

/// The mail queue at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxStatus {
    /// Messages waiting for delivery (due, leased or not).
    pub pending: u64,
    /// Messages given up on after the last try, kept for an operator to look at.
    pub failed: u64,
}

impl<P: Ports> Portcullis<P> {
    /// Succeeds when the store answers (a readiness probe).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, handles) = portcullis_testing::test_service(portcullis_domain::Policy::default());
    /// assert!(service.check_store().await.is_ok());
    /// handles.store.set_unavailable(true);
    /// assert!(service.check_store().await.is_err());
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError::Unavailable`] when it does not.
    pub async fn check_store(&self) -> Result<(), InfraError> {
        self.store.ping().await.map_err(|e| InfraError::Unavailable(Box::new(e)))
    }

    /// How many messages wait in the mail queue and how many were given up.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(portcullis_domain::Policy::default());
    /// let status = service.mail_outbox_status().await.unwrap();
    /// assert_eq!((status.pending, status.failed), (0, 0));
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn mail_outbox_status(&self) -> Result<OutboxStatus, InfraError> {
        Ok(OutboxStatus { pending: self.store.outbox_depth().await?, failed: self.store.outbox_failed_count().await? })
    }

    /// Deletes rate-limit events older than [`crate::Policy::rate_event_retention`]; returns
    /// how many went. Safe to run on every instance at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(portcullis_domain::Policy::default());
    /// assert_eq!(service.purge_rate_events().await.unwrap(), 0);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn purge_rate_events(&self) -> Result<u64, InfraError> {
        let before = self.now().minus(self.policy.rate_event_retention);
        Ok(self.store.purge_rate_events(before).await?)
    }

    /// Deletes sessions that ended (expired or revoked) longer than
    /// [`crate::Policy::ended_session_retention`] ago, with their spent refresh tokens;
    /// returns how many sessions went. Safe to run on every instance at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(portcullis_domain::Policy::default());
    /// assert_eq!(service.purge_ended_sessions().await.unwrap(), 0);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn purge_ended_sessions(&self) -> Result<u64, InfraError> {
        let before = self.now().minus(self.policy.ended_session_retention);
        Ok(self.store.purge_ended_sessions(before).await?)
    }

    /// Deletes TOTP enrolments never confirmed within [`crate::Policy::totp_enrolment_ttl`]
    /// (their sealed seeds with them) and passkey ceremonies past their five minutes;
    /// returns how many went. Safe to run on every instance at once.
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn purge_stale_enrolments(&self) -> Result<u64, InfraError> {
        let now = self.now();
        let factors = self.store.purge_pending_factors(now.minus(self.policy.totp_enrolment_ttl)).await?;
        let ceremonies = self.store.purge_expired_ceremonies(now).await?;
        Ok(factors + ceremonies)
    }
}
