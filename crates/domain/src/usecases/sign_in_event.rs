//! Record a sign-in or sign-up that the client performed by a path the server did not see.

use std::time::Duration;

use serde_json::json;

use crate::error::InfraError;
use crate::model::{AuditAction, NewAuditEntry, RequestContext};
use crate::ports::{Change, Ports, StoreError, UnitOfWork};
use crate::service::{Limit, Portcullis};
use crate::usecases::authenticate::Principal;

/// What the client reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedEvent {
    /// A sign-in: audited as `auth.login.success` and alerted.
    Login,
    /// A sign-up: audited as `auth.signup`, not alerted.
    Signup,
}

/// Why a report was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInEventError {
    /// More than the hourly allowance for this user.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure before anything was stored.
    #[error(transparent)]
    Infra(#[from] InfraError),
    /// The limit was checked but the entry could not be stored. The caller's session is
    /// unaffected: the server logs it and answers `{"success": false}`.
    #[error("the event was not recorded")]
    NotRecorded(#[source] InfraError),
}

impl From<StoreError> for SignInEventError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Stores the entry (and for `Login` the alert).
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
    /// // A client that signed in elsewhere (a native app, say) reports it for the history.
    /// auth.record_sign_in_event(&me, ReportedEvent::Login, Some("fp-123".to_owned()), &ctx).await.unwrap();
    /// let history = auth.login_history(me.user.id, HistoryQuery::default()).await.unwrap();
    /// assert_eq!(history.total_count, 2);
    /// # let _ = login;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`SignInEventError::RateLimited`] over the per-user limit,
    /// [`SignInEventError::NotRecorded`] when storing failed (the caller's session is
    /// unaffected), [`SignInEventError::Infra`] when the limit could not be checked.
    pub async fn record_sign_in_event(
        &self,
        principal: &Principal,
        event: ReportedEvent,
        fingerprint: Option<String>,
        ctx: &RequestContext,
    ) -> Result<(), SignInEventError> {
        let now = self.now();
        let key = format!("sign-in-report:{}", principal.user.id);
        if let Limit::Limited(retry_after) = self.limit(key, self.policy.sign_in_report_rules(), now).await? {
            return Err(SignInEventError::RateLimited { retry_after });
        }
        let enrichment = self.enrich(ctx);
        let mut metadata = serde_json::Map::new();
        let action = match event {
            ReportedEvent::Login => {
                metadata.insert("method".to_owned(), json!("client_reported"));
                metadata.insert("fingerprint".to_owned(), json!(fingerprint));
                AuditAction::LoginSuccess
            }
            ReportedEvent::Signup => AuditAction::Signup,
        };
        let entry = NewAuditEntry {
            user_id: Some(principal.user.id),
            action,
            enrichment: enrichment.clone(),
            fingerprint,
            metadata,
            created_at: now,
        };
        let mut changes = vec![Change::AppendAudit(entry)];
        if event == ReportedEvent::Login {
            changes.extend(
                self.sign_in_alert(&principal.user, principal.session_id, &enrichment, principal.signed_in_with(), now)
                    .for_existing_session(principal.session_id),
            );
        }
        self.store.commit(changes).await.map(|_| ()).map_err(|e| SignInEventError::NotRecorded(e.into()))
    }
}
