//! Sign-in by a mailed six-digit code instead of the password: `POST /auth/login/code` mails
//! the code, `POST /auth/login/code/verify` redeems it.
//!
//! The request answers the same for every address. The redemption is a login in every other
//! way: it takes a slot of the same failed-attempt counter as the password (a wrong code is a
//! failed attempt, so five guesses lock both ways of signing in; the code rules also stop
//! wrong codes at `code_failures_per_day` per address), checks the account's state,
//! and on an account with an active second factor earns an `mfa_token`, never a session
//! (a mailed code proves control of the mailbox, not possession of the factor). Each code
//! works once: the commit that starts the session (or issues the challenge) consumes it with
//! a guarded write, so of parallel redemptions exactly one succeeds.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{AuditAction, CodePurpose, Email, OneTimeCode, RequestContext, StoredCode, Timestamp, User};
use crate::ports::{Change, CodeRepository, Permit, Ports, StoreError, UnitOfWork, UserRepository};
use crate::service::{Limit, Portcullis, clear_login_failures};
use crate::usecases::codes::RedeemCodeError;
use crate::usecases::common::{MailedCode, metadata};
use crate::usecases::login::{FirstStep, LoginError, LoginOutcome, SignInProof};

/// The audit entries' `"method"` for this way of signing in.
const METHOD: &str = FirstStep::EmailCode.audit_name();

/// Why a sign-in code was not mailed: only the per-IP limit, since the answer is otherwise
/// the same for every address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInCodeRequestError {
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

impl From<StoreError> for SignInCodeRequestError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

/// `POST /auth/login/code/verify`. Its `Debug` leaves the code out.
#[derive(Debug, Clone)]
pub struct CodeLoginRequest {
    /// Address.
    pub email: Email,
    /// The mailed code as typed.
    pub code: OneTimeCode,
    /// Keep the session for longer.
    pub remember_me: bool,
}

impl<P: Ports> Portcullis<P> {
    /// Mails a six-digit sign-in code (replacing older ones) to the account with this
    /// address, if there is one and it is not deleted, and audits it as
    /// `auth.login.code_requested`. Past the per-address mail limit (the verification mail's
    /// numbers, counted apart from them) nothing is sent, silently: the answer never depends
    /// on the address.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// auth.request_sign_in_code(&email("laura@example.com"), &ctx).await.unwrap();
    /// auth.request_sign_in_code(&email("nobody@example.com"), &ctx).await.unwrap();
    /// assert_eq!(kit.store.queued_mail().len(), 1, "only the account's address gets mail");
    /// let code = OneTimeCode::parse(&kit.random.last_code().unwrap()).unwrap();
    /// let request = CodeLoginRequest { email: email("laura@example.com"), code, remember_me: false };
    /// let outcome = auth.login_with_code(request, &ctx).await.unwrap();
    /// assert!(!outcome.access_token.is_empty());
    /// # });
    /// ```
    pub async fn request_sign_in_code(
        &self,
        email: &Email,
        ctx: &RequestContext,
    ) -> Result<(), SignInCodeRequestError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(SignInCodeRequestError::RateLimited { retry_after });
        }
        if let Limit::Limited(_) = self.limit(format!("sign-in-mail:{email}"), self.policy.resend_rules(), now).await? {
            return Ok(());
        }
        if let Some(user) = self.store.user_by_email(email).await?
            && user.deleted_at.is_none()
        {
            let mut changes: Vec<Change> = self.fresh_code(&user, MailedCode::SignIn, now).into();
            changes.push(self.audit(user.id, AuditAction::LoginCodeRequested, ctx, metadata([]), now));
            self.store.commit(changes).await?;
        }
        Ok(())
    }

    /// Signs in with a mailed code: answers like [`Self::login`], with `"method":
    /// "email_code"` in the audit entries, `amr` `["email"]` on the session and an alert that
    /// advises securing the mailbox. A wrong, used, expired or burned code, and an unknown
    /// address, all answer [`LoginError::InvalidCredentials`] and count as a failed attempt
    /// under the password's limit; a right code on an account with an active second factor
    /// answers [`LoginError::MfaRequired`], and the factor finishes the sign-in at `aal` 2
    /// with `amr` `["email", factor]`.
    ///
    /// # Errors
    /// As [`LoginError`] says.
    pub async fn login_with_code(
        &self,
        req: CodeLoginRequest,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, LoginError> {
        let now = self.now();
        // The same reservation as a password login: a wrong code fills the same counter as
        // a wrong password.
        let (permit, user) = self.open_login_attempt(&req.email, Some(METHOD), ctx, now).await?;
        // And the code rules of registration: at most `code_failures_per_day` wrong codes per
        // address, across resends, however the 30-minute lockout has let them through.
        let key = format!("code-failures:{}:{}", CodePurpose::SignIn.as_str(), req.email);
        let code_permit = match self.limit(key, self.policy.code_failure_rules(), now).await {
            Ok(Limit::Allowed(p)) => p,
            Ok(Limit::Limited(retry_after)) => {
                let _ = self.release(permit).await;
                if let Some(user) = &user {
                    self.audit_failure(user, "too_many_attempts", Some(METHOD), ctx, now, None).await?;
                }
                return Err(LoginError::TooManyAttempts { retry_after });
            }
            Err(e) => {
                let _ = self.release(permit).await;
                return Err(e.into());
            }
        };
        let Some(user) = user else {
            self.count_failure(permit).await?;
            return Err(LoginError::InvalidCredentials);
        };
        let stored = match self.check_code(user.id, CodePurpose::SignIn, &req.code, code_permit, now).await {
            Ok(stored) => stored,
            Err(RedeemCodeError::Infra(e)) => {
                // No code was checked: not a failed attempt.
                let _ = self.release(permit).await;
                return Err(e.into());
            }
            // Wrong, used, expired or burned: one answer, one failed attempt.
            Err(_) => {
                self.count_failure(permit).await?;
                self.audit_failure(&user, "invalid_code", Some(METHOD), ctx, now, None).await?;
                return Err(LoginError::InvalidCredentials);
            }
        };
        // The code was right: the slot goes back in the commit that follows. A refused
        // account (one deleted after its code was mailed, say) keeps its code until it
        // expires, as a refused password stays right.
        if let Some(block) = user.sign_in_block() {
            self.audit_failure(&user, block.audit_reason(), Some(METHOD), ctx, now, Some(permit)).await?;
            return Err(LoginError::Blocked(block));
        }
        self.start_code_session(user, &stored, req.remember_me, permit, ctx, now).await
    }

    /// The session of a right code, in a commit that consumes the code, gives the
    /// reservation `permit` back and expects no active second factor; an account with one
    /// gets a challenge instead, in a commit that consumes the code the same way.
    async fn start_code_session(
        &self,
        user: User,
        stored: &StoredCode,
        remember_me: bool,
        permit: Permit,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<LoginOutcome, LoginError> {
        let (mut changes, outcome) =
            match self.new_session(user.clone(), remember_me, &SignInProof::email_code(), ctx, now) {
                Ok(built) => built,
                Err(e) => {
                    let _ = self.release(permit).await;
                    return Err(e.into());
                }
            };
        let consume = Change::ConsumeCode { id: stored.id, at: now };
        changes.extend([consume.clone(), Change::ExpectNoSecondFactor { user_id: user.id }]);
        match self.commit_holding_on_conflict(Some(permit), changes).await {
            Ok(()) => return Ok(outcome),
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
        // Either a parallel request spent the code, or the account has an active factor.
        // The code is still this one only in the second case.
        match self.store.active_code(user.id, CodePurpose::SignIn).await {
            Ok(Some(live)) if live.id == stored.id => {}
            Ok(_) => {
                // A right code, not a guess: a double submit must not lock the owner out.
                let _ = self.release(permit).await;
                return Err(LoginError::InvalidCredentials);
            }
            Err(e) => {
                let _ = self.release(permit).await;
                return Err(e.into());
            }
        }
        let mut changes = vec![consume, clear_login_failures(&user.email, now)];
        let challenge =
            match self.prepare_mfa_challenge(&user, FirstStep::EmailCode, remember_me, &mut changes, now).await {
                Ok(challenge) => challenge,
                Err(e) => {
                    let _ = self.release(permit).await;
                    return Err(e.into());
                }
            };
        match self.commit_holding_on_conflict(Some(permit), changes).await {
            Ok(()) => Err(LoginError::MfaRequired(challenge)),
            Err(StoreError::Conflict) => {
                // A parallel request spent the code between the two commits.
                let _ = self.release(permit).await;
                Err(LoginError::InvalidCredentials)
            }
            Err(e) => Err(e.into()),
        }
    }
}
