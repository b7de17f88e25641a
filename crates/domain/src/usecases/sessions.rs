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
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let live = auth.sessions(&me).await.unwrap();
    /// assert_eq!(live.len(), 1);
    /// assert_eq!(live[0].id, login.session_id);
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<Session>, InfraError> {
        Ok(self.store.live_sessions(principal.user.id, self.now()).await?)
    }

    /// Revokes one of the caller's live sessions (the current one included: its token is
    /// refused from the next request on) and audits it.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (phone, _) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// auth.revoke_session(&me, phone.session_id, &ctx).await.unwrap();
    /// assert_eq!(auth.sessions(&me).await.unwrap().len(), 1, "only this one is left");
    /// # let _ = login;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
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
