//! Verify an email address with the six-digit code mailed to it.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{AuditAction, CodePurpose, Email, NewAuditEntry, OneTimeCode, RequestContext};
use crate::ports::{Change, CodeRepository, Ports, SecretHasher, StoreError, UnitOfWork, UserRepository};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::CODE_DIGEST;

/// Why a verification was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
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

impl From<StoreError> for VerifyEmailError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Checks the code and marks the address verified. Every try is counted before the
    /// comparison, so concurrent guesses cannot exceed the limits, and the code is consumed
    /// by a guarded write, so it works exactly once.
    pub async fn verify_email(
        &self,
        email: &Email,
        code: &OneTimeCode,
        ctx: &RequestContext,
    ) -> Result<(), VerifyEmailError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(VerifyEmailError::RateLimited { retry_after });
        }
        let Some(user) = self.store.user_by_email(email).await? else {
            return Err(VerifyEmailError::InvalidCode);
        };
        if user.email_verified() || user.deleted_at.is_some() {
            return Err(VerifyEmailError::InvalidCode);
        }
        // Wrong codes per account across resends: reserve a slot, give it back if right.
        let permit =
            match self.limit(format!("code-failures:{}", user.id), self.policy.code_failure_rules(), now).await? {
                Limit::Allowed(p) => p,
                Limit::Limited(_) => return Err(VerifyEmailError::AttemptsExceeded),
            };
        let Some(stored) = self.store.active_code(user.id, CodePurpose::VerifyEmail).await? else {
            return Err(VerifyEmailError::InvalidCode);
        };
        if now >= stored.expires_at {
            self.release(permit).await?;
            return Err(VerifyEmailError::CodeExpired);
        }
        if self.store.count_code_attempt(stored.id, self.policy.code_max_attempts).await?.is_none() {
            self.release(permit).await?;
            return Err(VerifyEmailError::AttemptsExceeded);
        }
        let typed = self.secrets.digest(CODE_DIGEST, code.expose());
        if !typed.ct_eq(&stored.digest) {
            return Err(VerifyEmailError::InvalidCode);
        }
        self.release(permit).await?;
        let audit = NewAuditEntry {
            user_id: Some(user.id),
            action: AuditAction::EmailVerified,
            enrichment: self.enrich(ctx),
            fingerprint: None,
            metadata: serde_json::Map::new(),
            created_at: now,
        };
        let changes = vec![
            Change::ConsumeCode { id: stored.id, at: now },
            Change::MarkEmailVerified { user_id: user.id, at: now },
            Change::AppendAudit(audit),
        ];
        match self.store.commit(changes).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(VerifyEmailError::InvalidCode),
            Err(e) => Err(e.into()),
        }
    }
}
