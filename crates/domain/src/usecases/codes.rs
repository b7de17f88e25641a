//! Checking a mailed six-digit code: the rules verification and password reset share.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{CodePurpose, Email, OneTimeCode, RequestContext, StoredCode, Timestamp, User, UserId};
use crate::ports::{CodeRepository, Permit, Ports, SecretHasher, StoreError, UserRepository};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::CODE_DIGEST;

/// Why a use case that redeems a mailed code (email verification, password reset) refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Only from a password reset (the code was right and stays usable):
    /// the new password appears in known breaches at least
    /// [`crate::BreachPolicy::min_count`] times (a 400 on `new_password`).
    #[error("the password appears in known data breaches")]
    PasswordBreached,
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

impl From<StoreError> for RedeemCodeError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Checks a mailed `code` for `email` and returns the account and the code (still
    /// unconsumed: the caller consumes it with a guarded write in the same commit as its
    /// effect). Accounts `eligible` rejects (deleted, already verified, ...) answer like
    /// unknown addresses.
    ///
    /// Every try is counted before anything is looked up: against the address, per purpose
    /// (at most `code_failures_per_day` wrong ones across resends), and against the code (at
    /// most `code_max_attempts`), so concurrent guesses cannot exceed either limit, and an
    /// address without an account runs out of tries exactly like one with an account (its
    /// answers reveal nothing). Only a right code, an expired one and a burned one give the
    /// address's try back.
    pub(crate) async fn redeem_code(
        &self,
        email: &Email,
        purpose: CodePurpose,
        code: &OneTimeCode,
        ctx: &RequestContext,
        eligible: impl FnOnce(&User) -> bool,
    ) -> Result<(User, StoredCode), RedeemCodeError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(RedeemCodeError::RateLimited { retry_after });
        }
        let key = format!("code-failures:{}:{email}", purpose.as_str());
        let permit = match self.limit(key, self.policy.code_failure_rules(), now).await? {
            Limit::Allowed(p) => p,
            Limit::Limited(_) => return Err(RedeemCodeError::AttemptsExceeded),
        };
        let Some(user) = self.store.user_by_email(email).await?.filter(|u| eligible(u)) else {
            return Err(RedeemCodeError::InvalidCode);
        };
        let stored = self.check_code(user.id, purpose, code, permit, now).await?;
        Ok((user, stored))
    }

    /// The second half of [`Self::redeem_code`], for callers that know the account: checks
    /// `code` against `user_id`'s live code of `purpose`, and resolves `permit` (a try of the
    /// account's daily allowance of wrong codes): given back for a right, expired or burned
    /// code, kept for a wrong one.
    pub(crate) async fn check_code(
        &self,
        user_id: UserId,
        purpose: CodePurpose,
        code: &OneTimeCode,
        permit: Permit,
        now: Timestamp,
    ) -> Result<StoredCode, RedeemCodeError> {
        let Some(stored) = self.store.active_code(user_id, purpose).await? else {
            return Err(RedeemCodeError::InvalidCode);
        };
        if now >= stored.expires_at {
            self.release(permit).await?;
            return Err(RedeemCodeError::CodeExpired);
        }
        if self.store.count_code_attempt(stored.id, self.policy.code_max_attempts).await?.is_none() {
            self.release(permit).await?;
            // Out of tries, or used by a parallel request since it was read (a double
            // submit): that one is just a used code.
            let used = self.store.active_code(user_id, purpose).await?.is_none_or(|live| live.id != stored.id);
            return Err(if used { RedeemCodeError::InvalidCode } else { RedeemCodeError::AttemptsExceeded });
        }
        let typed = self.secrets.digest(CODE_DIGEST, code.expose());
        if !typed.ct_eq(&stored.digest) {
            return Err(RedeemCodeError::InvalidCode);
        }
        self.release(permit).await?;
        Ok(stored)
    }
}
