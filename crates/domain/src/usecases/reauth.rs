//! Re-entering the password before a sensitive change of one's own account.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{AuditAction, Password, RequestContext, Timestamp, User};
use crate::ports::{PasswordHasher, Ports, StoreError, UnitOfWork};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::metadata;

/// Why a password-confirmed change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReauthError {
    /// The password given is not the account's.
    #[error("invalid credentials")]
    WrongPassword,
    /// Too many failed attempts for this address (logins and confirmations share the limit).
    #[error("too many failed attempts")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for ReauthError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Checks `password` against `user`'s, under the same per-address failure limit as
    /// login, so a stolen access token cannot be used to guess the password. A wrong one is
    /// audited as a failed login (`reason: invalid_password`, `method: reauthentication`).
    pub(crate) async fn reauthenticate(
        &self,
        user: &User,
        password: Password,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<(), ReauthError> {
        let permit = match self.reserve_password_attempt(&user.email, now).await? {
            Limit::Allowed(p) => p,
            Limit::Limited(retry_after) => return Err(ReauthError::TooManyAttempts { retry_after }),
        };
        let matches = match self.hasher.verify(password, user.password_hash.clone()).await {
            Ok(m) => m,
            Err(e) => {
                // No password was checked: not a failure (best effort, as in login).
                let _ = self.release(permit).await;
                return Err(InfraError::from(e).into());
            }
        };
        if !matches {
            self.count_failure(permit).await?;
            let meta = metadata([("reason", "invalid_password".into()), ("method", "reauthentication".into())]);
            self.store.commit(vec![self.audit(user.id, AuditAction::LoginFailure, ctx, meta, now)]).await?;
            return Err(ReauthError::WrongPassword);
        }
        let _ = self.release(permit).await;
        Ok(())
    }
}
