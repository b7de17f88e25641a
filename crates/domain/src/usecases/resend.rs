//! Resend the verification code.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{Email, RequestContext};
use crate::ports::{Ports, StoreError, UnitOfWork};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::MailedCode;

/// Why a resend was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResendError {
    /// Too many calls from this IP or for this address (every address alike).
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for ResendError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Mails a new code (invalidating older ones) if the address has an unverified account.
    /// The answer is the same whether or not it has.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let form = RegisterUser::parse("Laura", "laura@example.com", PASSWORD, auth.policy().password).unwrap();
    /// auth.register(form, &ctx).await.unwrap();
    /// kit.clock.advance(std::time::Duration::from_secs(61));
    /// auth.resend_verification(&email("laura@example.com"), &ctx).await.unwrap();
    /// assert_eq!(kit.store.queued_mail().len(), 2, "a second code is on its way");
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn resend_verification(&self, email: &Email, ctx: &RequestContext) -> Result<(), ResendError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(ResendError::RateLimited { retry_after });
        }
        let (allowance, user) = self.mail_allowance_reading_user(email, now).await?;
        if let Limit::Limited(retry_after) = allowance {
            return Err(ResendError::RateLimited { retry_after });
        }
        if let Some(user) = user
            && !user.email_verified()
            && user.deleted_at.is_none()
        {
            self.store.commit(self.fresh_code(&user, MailedCode::VerifyEmail, now).into()).await?;
        }
        Ok(())
    }
}
