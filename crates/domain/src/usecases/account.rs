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
    /// auth.deactivate_account(&me, Password::new(PASSWORD), &ctx).await.unwrap();
    /// assert_eq!(kit.store.users()[0].status, AccountStatus::Deactivated);
    /// assert!(auth.authenticate(&login.access_token).await.is_err());
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
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
    /// auth.delete_account(&me, Password::new(PASSWORD), &ctx).await.unwrap();
    /// assert!(kit.store.users()[0].deleted_at.is_some());
    /// assert!(auth.authenticate(&login.access_token).await.is_err());
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
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
