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
