//! The caller's own sessions: list the live ones, revoke one.

use crate::error::InfraError;
use crate::model::{AuditAction, NewAuditEntry, RequestContext, Session, SessionId};
use crate::ports::{Change, Ports, SessionRepository, UnitOfWork};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;

/// Why a session could not be revoked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No live session of the caller has this id. Another user's id, and one already revoked
    /// or expired, get the same answer, so ids cannot be probed.
    #[error("no such session")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl<P: Ports> Portcullis<P> {
    /// The caller's live sessions, newest first.
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<Session>, InfraError> {
        Ok(self.store.live_sessions(principal.user.id, self.now()).await?)
    }

    /// Revokes one of the caller's live sessions (the current one included: its token is
    /// refused from the next request on) and audits it.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] for an id that is not a live session of the caller.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: SessionId,
        ctx: &RequestContext,
    ) -> Result<(), SessionError> {
        let now = self.now();
        let found = self.store.session_with_user(session_id).await.map_err(InfraError::from)?;
        let Some((session, _)) = found.filter(|(s, _)| s.user_id == principal.user.id && s.is_live(now)) else {
            return Err(SessionError::NotFound);
        };
        let audit = NewAuditEntry {
            user_id: Some(principal.user.id),
            action: AuditAction::SessionRevoked,
            enrichment: self.enrich(ctx),
            fingerprint: None,
            metadata: serde_json::Map::from_iter([("session_id".to_owned(), session.id.to_string().into())]),
            created_at: now,
        };
        self.store
            .commit(vec![Change::RevokeSession { session_id: session.id, at: now }, Change::AppendAudit(audit)])
            .await
            .map_err(InfraError::from)?;
        Ok(())
    }
}
