//! End the caller's session.

use crate::error::InfraError;
use crate::model::{AuditAction, NewAuditEntry, RequestContext};
use crate::ports::{Change, Ports, UnitOfWork};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;

impl<P: Ports> Portcullis<P> {
    /// Revokes the session the caller's token belongs to; its tokens are refused from the next
    /// request on, on every instance (they all check the session in the store).
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// auth.logout(&me, &ctx).await.unwrap();
    /// assert!(auth.authenticate(&login.access_token).await.is_err(), "the session is over");
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn logout(&self, principal: &Principal, ctx: &RequestContext) -> Result<(), InfraError> {
        let now = self.now();
        let audit = NewAuditEntry {
            user_id: Some(principal.user.id),
            action: AuditAction::Logout,
            enrichment: self.enrich(ctx),
            fingerprint: None,
            metadata: serde_json::Map::from_iter([("session_id".to_owned(), principal.session_id.to_string().into())]),
            created_at: now,
        };
        self.store
            .commit(vec![
                Change::RevokeSession { session_id: principal.session_id, at: now },
                Change::AppendAudit(audit),
            ])
            .await?;
        Ok(())
    }
}
