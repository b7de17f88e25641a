//! Verify an email address with the six-digit code mailed to it.

use crate::model::{AuditAction, CodePurpose, Email, NewAuditEntry, OneTimeCode, RequestContext, User};
use crate::ports::{Change, Ports, StoreError, UnitOfWork};
use crate::service::{Portcullis, clear_login_failures};
use crate::usecases::codes::RedeemCodeError;

/// Why a verification was refused.
pub type VerifyEmailError = RedeemCodeError;

impl<P: Ports> Portcullis<P> {
    /// Checks the code (see the shared code rules) and marks the address verified. The code
    /// is consumed by a guarded write, so it works exactly once.
    pub async fn verify_email(
        &self,
        email: &Email,
        code: &OneTimeCode,
        ctx: &RequestContext,
    ) -> Result<(), VerifyEmailError> {
        let unverified = |u: &User| !u.email_verified() && u.deleted_at.is_none();
        let (user, stored) = self.redeem_code(email, CodePurpose::VerifyEmail, code, ctx, unverified).await?;
        let now = self.now();
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
            clear_login_failures(&user.email, now),
        ];
        match self.store.commit(changes).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(VerifyEmailError::InvalidCode),
            Err(e) => Err(e.into()),
        }
    }
}
