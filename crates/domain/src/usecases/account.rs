//! Closing one's own account: deactivation and (soft) deletion.

use crate::error::InfraError;
use crate::model::{AccountStatus, AuditAction, Password, RequestContext, Timestamp, UserId};
use crate::ports::{Change, Ports, UnitOfWork};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;
use crate::usecases::common::metadata;
use crate::usecases::reauth::ReauthError;

impl<P: Ports> Portcullis<P> {
    /// Sets the caller's account to `deactivated` after checking the password, and revokes
    /// every session (the current one included). Login then answers `ACCOUNT_DEACTIVATED`;
    /// an administrator can reactivate the account.
    pub async fn deactivate_account(
        &self,
        principal: &Principal,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<(), ReauthError> {
        let close = |user_id, now| Change::SetStatus { user_id, status: AccountStatus::Deactivated, at: now };
        self.close_account(principal, password, close, AuditAction::AccountDeactivated, ctx).await
    }

    /// Soft-deletes the caller's account (`deleted_at` set, the row and its address kept)
    /// after checking the password, and revokes every session. Login then answers
    /// `ACCOUNT_DELETED`; an administrator can restore the account.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<(), ReauthError> {
        let close = |user_id, now| Change::SetDeleted { user_id, deleted_at: Some(now), at: now };
        self.close_account(principal, password, close, AuditAction::AccountDeleted, ctx).await
    }

    /// Checks the password, then applies `close` to the caller's account, revokes every
    /// session and audits `action`, in one commit.
    async fn close_account(
        &self,
        principal: &Principal,
        password: Password,
        close: impl FnOnce(UserId, Timestamp) -> Change,
        action: AuditAction,
        ctx: &RequestContext,
    ) -> Result<(), ReauthError> {
        let now = self.now();
        let user = &principal.user;
        self.reauthenticate(user, password, ctx, now).await?;
        let changes = vec![
            close(user.id, now),
            Change::RevokeUserSessions { user_id: user.id, except: None, at: now },
            self.audit(user.id, action, ctx, metadata([]), now),
        ];
        self.store.commit(changes).await.map_err(InfraError::from)?;
        Ok(())
    }
}
