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
    /// let code = OneTimeCode::parse(&kit.random.last_code().unwrap()).unwrap();
    /// auth.verify_email(&email("laura@example.com"), &code, &ctx).await.unwrap();
    /// assert!(auth.verify_email(&email("laura@example.com"), &code, &ctx).await.is_err(), "a code works once");
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
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
