//! Checking a mailed six-digit code: the rules verification and password reset share.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{CodePurpose, OneTimeCode, StoredCode, Timestamp, User};
use crate::ports::{CodeRepository, Ports, SecretHasher, StoreError};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::CODE_DIGEST;

/// Why a code was refused.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Wrong, unknown or used code, or unknown address: deliberately indistinguishable.
    #[error("invalid code")]
    Invalid,
    /// The code is older than its lifetime.
    #[error("code expired")]
    Expired,
    /// The code is burned, or the account has used up its daily wrong tries.
    #[error("too many wrong codes")]
    AttemptsExceeded,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for CodeError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

/// Why a use case that redeems a mailed code (email verification, password reset) refused.
#[derive(Debug, thiserror::Error)]
pub enum RedeemCodeError {
    /// Wrong, unknown or used code, or unknown address: deliberately indistinguishable.
    #[error("invalid code")]
    InvalidCode,
    /// The code is older than its lifetime.
    #[error("code expired")]
    CodeExpired,
    /// The code is burned, or the account has used up its daily wrong tries.
    #[error("too many wrong codes")]
    AttemptsExceeded,
    /// Too many calls from this IP.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<CodeError> for RedeemCodeError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::Invalid => Self::InvalidCode,
            CodeError::Expired => Self::CodeExpired,
            CodeError::AttemptsExceeded => Self::AttemptsExceeded,
            CodeError::Infra(e) => Self::Infra(e),
        }
    }
}

impl From<StoreError> for RedeemCodeError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Checks `code` against `user`'s newest `purpose` code and returns it (still unconsumed:
    /// the caller consumes it with a guarded write in the same commit as its effect).
    ///
    /// Every try is counted before the comparison, against the code (at most
    /// `code_max_attempts`) and against the account (at most `code_failures_per_day` wrong
    /// ones across resends and purposes), so concurrent guesses cannot exceed either limit.
    pub(crate) async fn check_code(
        &self,
        user: &User,
        purpose: CodePurpose,
        code: &OneTimeCode,
        now: Timestamp,
    ) -> Result<StoredCode, CodeError> {
        // Wrong codes per account across resends: reserve a slot, give it back if right.
        let permit =
            match self.limit(format!("code-failures:{}", user.id), self.policy.code_failure_rules(), now).await? {
                Limit::Allowed(p) => p,
                Limit::Limited(_) => return Err(CodeError::AttemptsExceeded),
            };
        let Some(stored) = self.store.active_code(user.id, purpose).await? else {
            return Err(CodeError::Invalid);
        };
        if now >= stored.expires_at {
            self.release(permit).await?;
            return Err(CodeError::Expired);
        }
        if self.store.count_code_attempt(stored.id, self.policy.code_max_attempts).await?.is_none() {
            self.release(permit).await?;
            return Err(CodeError::AttemptsExceeded);
        }
        let typed = self.secrets.digest(CODE_DIGEST, code.expose());
        if !typed.ct_eq(&stored.digest) {
            return Err(CodeError::Invalid);
        }
        self.release(permit).await?;
        Ok(stored)
    }
}
