//! Forgotten and changed passwords.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{AuditAction, CodePurpose, Email, NewPassword, OneTimeCode, RequestContext, Timestamp, User};
use crate::ports::{Change, PasswordHasher, Ports, StoreError, UnitOfWork, UserRepository};
use crate::service::{Limit, Portcullis, clear_login_failures};
use crate::usecases::authenticate::Principal;
use crate::usecases::breach_screen::Screened;
use crate::usecases::codes::RedeemCodeError;
use crate::usecases::common::{MailedCode, metadata};
use crate::usecases::reauth::ReauthError;

/// Why a reset-code request was refused (only the per-IP limit: the answer is otherwise the
/// same for every address).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForgotPasswordError {
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

impl From<StoreError> for ForgotPasswordError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

/// Why a password reset was refused: the verification code rules, shared.
pub type ResetPasswordError = RedeemCodeError;

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangePasswordError {
    /// The current password given is not the account's.
    #[error("invalid credentials")]
    WrongPassword,
    /// Too many failed attempts for this address (logins and confirmations share the limit).
    #[error("too many failed attempts")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The new password appears in known breaches at least
    /// [`crate::BreachPolicy::min_count`] times (a 400 on `new_password`).
    #[error("the password appears in known data breaches")]
    PasswordBreached,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<ReauthError> for ChangePasswordError {
    fn from(e: ReauthError) -> Self {
        match e {
            ReauthError::WrongPassword => Self::WrongPassword,
            ReauthError::TooManyAttempts { retry_after } => Self::TooManyAttempts { retry_after },
            ReauthError::Infra(e) => Self::Infra(e),
        }
    }
}

impl<P: Ports> Portcullis<P> {
    /// Mails a six-digit reset code (replacing older ones) to the account with this address,
    /// if there is one and it is not deleted. Past the per-address mail limit (the
    /// verification mail's numbers) nothing is sent, silently: the answer never depends on
    /// the address.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// auth.forgot_password(&email("laura@example.com"), &ctx).await.unwrap();
    /// // An unknown address gets the same answer, and no mail.
    /// auth.forgot_password(&email("nobody@example.com"), &ctx).await.unwrap();
    /// assert_eq!(kit.store.queued_mail().len(), 1);
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn forgot_password(&self, email: &Email, ctx: &RequestContext) -> Result<(), ForgotPasswordError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(ForgotPasswordError::RateLimited { retry_after });
        }
        if let Limit::Limited(_) = self.limit(format!("reset-mail:{email}"), self.policy.resend_rules(), now).await? {
            return Ok(());
        }
        if let Some(user) = self.store.user_by_email(email).await?
            && user.deleted_at.is_none()
        {
            let mut changes: Vec<Change> = self.fresh_code(&user, MailedCode::ResetPassword, now).into();
            changes.push(self.audit(user.id, AuditAction::PasswordResetRequested, ctx, metadata([]), now));
            self.store.commit(changes).await?;
        }
        Ok(())
    }

    /// Sets a new password with a mailed reset code (the same rules as verification codes),
    /// revokes every session of the account and mails a notice. The code works once.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// auth.forgot_password(&email("laura@example.com"), &ctx).await.unwrap();
    /// let code = OneTimeCode::parse(&kit.random.last_code().unwrap()).unwrap();
    /// let new = NewPassword::parse("a brand new passphrase", None, auth.policy().password).unwrap();
    /// auth.reset_password(&email("laura@example.com"), &code, &new, &ctx).await.unwrap();
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn reset_password(
        &self,
        email: &Email,
        code: &OneTimeCode,
        new_password: &NewPassword,
        ctx: &RequestContext,
    ) -> Result<(), ResetPasswordError> {
        let live = |u: &User| u.deleted_at.is_none();
        let (user, stored) = self.redeem_code(email, CodePurpose::ResetPassword, code, ctx, live).await?;
        // Screened after the code, so only the code's holder learns the verdict, and before
        // consuming it, so a refused password can be replaced with the same code.
        if self.screen_new_password(new_password).await? == Screened::Breached {
            return Err(ResetPasswordError::PasswordBreached);
        }
        let now = self.now();
        let hash = self.hasher.hash(new_password.as_password().clone()).await.map_err(InfraError::from)?;
        let mut changes = vec![
            Change::ConsumeCode { id: stored.id, at: now },
            Change::SetPassword { user_id: user.id, hash, at: now },
            Change::RevokeUserSessions { user_id: user.id, except: None, at: now },
            self.audit(user.id, AuditAction::PasswordReset, ctx, metadata([]), now),
            clear_login_failures(&user.email, now),
        ];
        changes.push(self.password_notice(&user, ctx, now));
        match self.store.commit(changes).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(ResetPasswordError::InvalidCode),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the caller's password after checking the current one (counted like a login
    /// attempt), revokes every other session and mails a notice.
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
    /// let new = NewPassword::parse("a brand new passphrase", None, auth.policy().password).unwrap();
    /// auth.change_password(&me, Password::new(PASSWORD), &new, &ctx).await.unwrap();
    /// // The next request authenticates afresh and sees the new hash.
    /// let me = auth.authenticate(&login.access_token).await.unwrap();
    /// let again = auth.change_password(&me, Password::new(PASSWORD), &new, &ctx).await;
    /// assert!(matches!(again, Err(ChangePasswordError::WrongPassword)), "the old password is gone");
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: crate::model::Password,
        new_password: &NewPassword,
        ctx: &RequestContext,
    ) -> Result<(), ChangePasswordError> {
        let now = self.now();
        let user = &principal.user;
        self.reauthenticate(user, current, ctx, now).await?;
        if self.screen_new_password(new_password).await? == Screened::Breached {
            return Err(ChangePasswordError::PasswordBreached);
        }
        let hash = self.hasher.hash(new_password.as_password().clone()).await.map_err(InfraError::from)?;
        let changes = vec![
            Change::SetPassword { user_id: user.id, hash, at: now },
            Change::RevokeUserSessions { user_id: user.id, except: Some(principal.session_id), at: now },
            self.audit(user.id, AuditAction::PasswordChanged, ctx, metadata([]), now),
            self.password_notice(user, ctx, now),
        ];
        self.store.commit(changes).await.map_err(InfraError::from)?;
        Ok(())
    }

    /// The "your password was changed" mail.
    fn password_notice(&self, user: &User, ctx: &RequestContext, now: Timestamp) -> Change {
        let from = self.enrich(ctx);
        let text = self.templates.password_changed(
            &self.policy.product_name,
            user.name.as_str(),
            now,
            Some(&from),
            self.base_url(),
        );
        self.mail_to(user, text, now)
    }
}
