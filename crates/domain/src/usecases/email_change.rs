//! Moving an account to another address, in three steps: the request (the password, then a
//! code to the new address and a notice to the old one), the confirmation (the code switches
//! the address; the old one gets a link that undoes it), and, maybe, the reversal (the link
//! moves the account back and signs every session out).
//!
//! The address switches in one guarded write that the store's unique index decides, so of
//! two accounts moving to one address at once exactly one gets it, on every instance. The
//! reversal is built to leave whoever took over nothing to come back with: while a link
//! lives its old address stays reserved for the account (nobody can register it or move to
//! it), and using it ends the later links, the unused codes and the sessions, and removes
//! the second factors added since. What it cannot undo is a deletion of the account: an
//! administrator restores that (the retention window).
//! Neither the answers nor the audit entries tell whether an address is taken; the entries
//! hold no address at all, so erasing an account leaves none behind in the log.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{
    AuditAction, CodePurpose, Email, EmailChange, EmailChangeId, OneTimeCode, Password, RequestContext,
};
use crate::ports::{
    Change, CodeRepository, FactorRepository, Ports, RandomSource, SecretHasher, StoreError, UnitOfWork, UserRepository,
};
use crate::service::{Limit, Portcullis};
use crate::usecases::authenticate::Principal;
use crate::usecases::codes::RedeemCodeError;
use crate::usecases::common::metadata;
use crate::usecases::reauth::ReauthError;

/// How long the old address's link undoes a change (the contract's 7 days).
pub const EMAIL_REVERT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Purpose label of the keyed hash of revert links' tokens.
const REVERT_DIGEST: &str = "email-revert";

/// Why an address change was not started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailChangeError {
    /// The password given is not the account's.
    #[error("invalid credentials")]
    WrongPassword,
    /// Too many failed attempts for this address (logins and confirmations share the limit).
    #[error("too many failed attempts")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The new address is the account's own.
    #[error("the new address is the current one")]
    SameAddress,
    /// A session that did not use the account's active second factor: moving the address
    /// moves where password resets go, so it takes the session level that managing factors
    /// takes.
    #[error("a session that used the second factor is required")]
    SecondFactorRequired,
    /// Too many change requests from this account (the mail limit of codes).
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for EmailChangeError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl From<ReauthError> for EmailChangeError {
    fn from(e: ReauthError) -> Self {
        match e {
            ReauthError::WrongPassword => Self::WrongPassword,
            ReauthError::TooManyAttempts { retry_after } => Self::TooManyAttempts { retry_after },
            ReauthError::Infra(e) => Self::Infra(e),
        }
    }
}

/// Why a code did not switch the address: the code rules of verification. A right code whose
/// address was taken since the request is [`RedeemCodeError::InvalidCode`] too.
pub type ConfirmEmailChangeError = RedeemCodeError;

/// Why a revert link did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevertEmailChangeError {
    /// Unknown, used or expired link, or an account that is gone.
    #[error("invalid or used link")]
    InvalidToken,
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

impl From<StoreError> for RevertEmailChangeError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Starts moving the caller's account to `new_email`, after checking the password
    /// (counted like a login attempt). A code goes to the new address (replacing an earlier
    /// request's) and a notice to the current one. When the new address is taken (or kept
    /// for another account's reversal) the code is still made but not sent: a taken
    /// address's owner gets a "someone tried to use your address" mail instead, so the
    /// answer, the caller's mail and the stored rows are the same either way.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (_, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// auth.request_email_change(&me, Password::new(PASSWORD), &email("laura@example.org"), &ctx).await.unwrap();
    /// let code = OneTimeCode::parse(&kit.random.last_code().unwrap()).unwrap();
    /// let now = auth.confirm_email_change(&me, &code, &ctx).await.unwrap();
    /// assert_eq!(now.as_str(), "laura@example.org");
    /// # });
    /// ```
    ///
    /// # Errors
    /// As [`EmailChangeError`] says.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        password: Password,
        new_email: &Email,
        ctx: &RequestContext,
    ) -> Result<(), EmailChangeError> {
        let now = self.now();
        let user = &principal.user;
        if principal.lacks_second_factor(&self.store.factors(user.id).await?) {
            return Err(EmailChangeError::SecondFactorRequired);
        }
        self.reauthenticate(user, password, ctx, now).await?;
        if *new_email == user.email {
            return Err(EmailChangeError::SameAddress);
        }
        let key = format!("email-change-mail:{}", user.id);
        if let Limit::Limited(retry_after) = self.limit(key, self.policy.resend_rules(), now).await? {
            return Err(EmailChangeError::RateLimited { retry_after });
        }
        // Both reads whatever the first finds, so the work does not tell a taken address.
        let holder = self.store.user_by_email(new_email).await?;
        let reserved = self.store.email_reserved_for_revert(new_email, now).await?;
        // The new address's own mail allowance: many accounts cannot flood one inbox. Past
        // it the change is stored as usual and nothing is sent, silently.
        let target = format!("email-change-to:{new_email}");
        let may_mail = matches!(self.limit(target, self.policy.resend_rules(), now).await?, Limit::Allowed(_));
        let (code, stored) = self.new_code(user.id, CodePurpose::ChangeEmail, now);
        let product = &self.policy.product_name;
        let mut changes = vec![
            Change::ReplaceCode(stored),
            Change::StartEmailChange(EmailChange {
                id: EmailChangeId::new_v7(),
                user_id: user.id,
                old_email: user.email.clone(),
                new_email: new_email.clone(),
                created_at: now,
                confirmed_at: None,
                revert_digest: None,
                revert_expires_at: None,
                reverted_at: None,
            }),
            self.audit(user.id, AuditAction::EmailChangeRequested, ctx, metadata([]), now),
            self.mail_to(
                user,
                self.templates.email_change_requested(product, user.name.as_str(), new_email.as_str(), self.base_url()),
                now,
            ),
        ];
        match holder {
            _ if !may_mail => {}
            // A deleted account's address has nobody to warn.
            Some(holder) if holder.deleted_at.is_none() => {
                let text = self.templates.email_in_use(product, holder.name.as_str());
                changes.push(self.mail_to(&holder, text, now));
            }
            Some(_) => {}
            // Kept for its old owner's reversal: the change cannot go through, and the link
            // in that owner's mailbox already tells them what happened to the address.
            None if reserved => {}
            None => {
                let text = self.templates.email_change_code(product, user.name.as_str(), &code, self.policy.code_ttl);
                changes.push(self.mail_to_address(new_email, user.name.as_str(), text, now));
            }
        }
        self.store.commit(changes).await?;
        Ok(())
    }

    /// Switches the caller's address to the one the code was mailed to, and returns it. Both
    /// addresses are mailed; the old one with a link that undoes the change (and signs every
    /// session out) for [`EMAIL_REVERT_TTL`]. Audited as `user.email.changed`. Sessions are
    /// kept. The code rules are those of verification, counted per account.
    ///
    /// # Errors
    /// As [`ConfirmEmailChangeError`] says; an address taken (or reserved) since the
    /// request, and a request overtaken by a newer one, are
    /// [`RedeemCodeError::InvalidCode`].
    pub async fn confirm_email_change(
        &self,
        principal: &Principal,
        code: &OneTimeCode,
        ctx: &RequestContext,
    ) -> Result<Email, ConfirmEmailChangeError> {
        let now = self.now();
        let user = &principal.user;
        let key = format!("code-failures:{}:{}", CodePurpose::ChangeEmail.as_str(), user.id);
        let permit = match self.limit(key, self.policy.code_failure_rules(), now).await? {
            Limit::Allowed(p) => p,
            Limit::Limited(_) => return Err(RedeemCodeError::AttemptsExceeded),
        };
        let stored = self.check_code(user.id, CodePurpose::ChangeEmail, code, permit, now).await?;
        let pending = self.store.email_changes(user.id).await?.into_iter().find(|c| c.confirmed_at.is_none());
        let change = match pending {
            Some(change) if change.old_email == user.email => change,
            _ => return Err(RedeemCodeError::InvalidCode),
        };
        if self.store.email_reserved_for_revert(&change.new_email, now).await? {
            return Err(RedeemCodeError::InvalidCode);
        }
        let token = self.random.url_token();
        let revert_url = format!("{}/api/v1/auth/email-change/revert?token={token}", self.base_url());
        let product = &self.policy.product_name;
        let name = user.name.as_str();
        let changes = vec![
            Change::ConsumeCode { id: stored.id, at: now },
            // Codes mailed to the old address (a reset, a sign-in) must not work on the new one.
            Change::DiscardCodes { user_id: user.id, at: now },
            Change::ChangeEmail { user_id: user.id, from: user.email.clone(), to: change.new_email.clone(), at: now },
            Change::ConfirmEmailChange {
                id: change.id,
                revert_digest: self.secrets.digest(REVERT_DIGEST, &token),
                revert_expires_at: now.plus(EMAIL_REVERT_TTL),
                at: now,
            },
            self.audit(user.id, AuditAction::EmailChanged, ctx, metadata([]), now),
            self.mail_to_address(&change.new_email, name, self.templates.email_changed_new(product, name), now),
            self.mail_to(
                user,
                self.templates.email_changed_old(
                    product,
                    name,
                    change.new_email.as_str(),
                    &revert_url,
                    EMAIL_REVERT_TTL,
                ),
                now,
            ),
        ];
        match self.store.commit(changes).await {
            Ok(_) => Ok(change.new_email),
            // Taken meanwhile (the unique index), or the code or the change used in parallel.
            Err(StoreError::Conflict | StoreError::DuplicateEmail) => Err(RedeemCodeError::InvalidCode),
            Err(e) => Err(e.into()),
        }
    }

    /// Undoes a confirmed change with the single-use token of the old address's link: the
    /// account gets that address back (whatever it moved to since), every session is signed
    /// out, every unused code (mailed to the address being left) stops working, second
    /// factors added since the change was asked for are removed, the links of changes made
    /// after this one stop working (whoever made them cannot undo the reversal), and the
    /// restored address is mailed. Audited as `user.email.change_reverted` with
    /// `factors_removed`.
    ///
    /// # Errors
    /// As [`RevertEmailChangeError`] says.
    pub async fn revert_email_change(&self, token: &str, ctx: &RequestContext) -> Result<(), RevertEmailChangeError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(RevertEmailChangeError::RateLimited { retry_after });
        }
        let digest = self.secrets.digest(REVERT_DIGEST, token);
        let change = match self.store.email_change_by_revert(digest).await? {
            Some(change) if change.revertible(now) => change,
            _ => return Err(RevertEmailChangeError::InvalidToken),
        };
        let user = match self.store.user_by_id(change.user_id).await? {
            Some(user) if user.deleted_at.is_none() => user,
            _ => return Err(RevertEmailChangeError::InvalidToken),
        };
        // The move back is guarded on the address as read, even when it is the old one
        // already: a confirmation racing this commit must not land after it unseen.
        let mut changes = vec![
            Change::RevertEmailChange { id: change.id, user_id: user.id, at: now },
            Change::ChangeEmail { user_id: user.id, from: user.email.clone(), to: change.old_email.clone(), at: now },
        ];
        // Second factors added since the change was asked for are the intruder's: left in
        // place, they would stop the owner at the next sign-in.
        let added: Vec<_> =
            self.store.factors(user.id).await?.into_iter().filter(|f| f.created_at >= change.created_at).collect();
        changes.extend(added.iter().map(|f| Change::DeleteFactor { user_id: user.id, factor_id: f.id }));
        let name = user.name.as_str();
        let text = self.templates.email_change_reverted(&self.policy.product_name, name, self.base_url(), added.len());
        changes.extend([
            // Codes mailed to the address being left (a sign-in, a reset) die with it.
            Change::DiscardCodes { user_id: user.id, at: now },
            Change::RevokeUserSessions { user_id: user.id, except: None, at: now },
            self.audit(
                user.id,
                AuditAction::EmailChangeReverted,
                ctx,
                metadata([("factors_removed", added.len().into())]),
                now,
            ),
            self.mail_to_address(&change.old_email, name, text, now),
        ]);
        match self.store.commit(changes).await {
            Ok(_) => Ok(()),
            // The link used in parallel, or the account moved again meanwhile.
            Err(StoreError::Conflict | StoreError::DuplicateEmail) => Err(RevertEmailChangeError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }
}
