//! "Not you?": the one-click link of a new-sign-in alert signs that session out.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{AuditAction, RequestContext};
use crate::ports::{Change, Ports, SecretHasher, SessionRepository, StoreError, UnitOfWork};
use crate::service::Portcullis;
use crate::usecases::common::{ALERT_DIGEST, MailedCode, metadata};

/// Why a "Not you?" request was refused. A used, expired or unknown token is not an error:
/// the answer is the same, so the link reveals nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertRevokeError {
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

impl From<StoreError> for AlertRevokeError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Uses up the alert `token` of a session: revokes that session, audits it and mails the
    /// owner a password-reset code (the likely next step for someone whose password is
    /// known to a stranger). The token works once, and only within
    /// [`crate::Policy::alert_token_ttl`] of the sign-in; otherwise nothing happens.
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
    /// // The new-sign-in mail carries a one-click "Not you?" link.
    /// let alert = kit.store.queued_mail().pop().unwrap();
    /// let token = alert.body.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    /// auth.revoke_from_alert(&token, &ctx).await.unwrap();
    /// assert!(auth.authenticate(&login.access_token).await.is_err(), "that session is signed out");
    /// # let _ = me;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn revoke_from_alert(&self, token: &str, ctx: &RequestContext) -> Result<(), AlertRevokeError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(AlertRevokeError::RateLimited { retry_after });
        }
        let digest = self.secrets.digest(ALERT_DIGEST, token);
        let Some((session, user)) = self.store.session_by_alert(digest.clone()).await? else {
            return Ok(());
        };
        if session.alert_expires_at.is_none_or(|end| now >= end) {
            return Ok(());
        }
        let mut changes = vec![
            Change::ConsumeAlertToken { session_id: session.id, digest },
            Change::RevokeSession { session_id: session.id, at: now },
            self.audit(
                user.id,
                AuditAction::SessionRevoked,
                ctx,
                metadata([("session_id", session.id.to_string().into()), ("via", "alert".into())]),
                now,
            ),
        ];
        if user.deleted_at.is_none() {
            changes.extend(self.fresh_code(&user, MailedCode::ResetPassword, now));
        }
        match self.store.commit(changes).await {
            // Used by a parallel click: that one did the work.
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
