//! Signing in with a passkey and no password: the request options, then the assertion,
//! through the same per-IP limit, account lockout, state checks, audit entry (method
//! `passkey`), new-sign-in alert and session as a password login.

use std::time::Duration;

use serde_json::json;

use crate::error::InfraError;
use crate::model::{AccountBlock, AuditAction, CeremonyPurpose, Email, Passkey, RequestContext, Timestamp, User};
use crate::ports::{
    Change, FactorRepository, PasskeyCeremonies, PasskeyError, PasskeyRefusal, Permit, Ports, SecretHasher, StoreError,
    UnitOfWork, UserRepository,
};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::metadata;
use crate::usecases::login::{LoginError, LoginOutcome, SignInProof};
use crate::usecases::passkey_factors::{CEREMONY_DIGEST, ceremony_failure};

/// Why a passkey sign-in was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeySignInError {
    /// Too many calls from this IP.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The account is locked by failed attempts (the password login's counter).
    #[error("too many failed login attempts")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The response does not answer a live sign-in ceremony, names no enabled passkey of
    /// the account it claims, or fails a check. One answer for all; the reason is audited
    /// when the account is known.
    #[error("invalid credential")]
    InvalidCredential,
    /// The passkey is right but the account may not sign in.
    #[error("account blocked: {0:?}")]
    Blocked(AccountBlock),
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for PasskeySignInError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl From<LoginError> for PasskeySignInError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            LoginError::TooManyAttempts { retry_after } => Self::TooManyAttempts { retry_after },
            LoginError::Blocked(block) => Self::Blocked(block),
            LoginError::Infra(e) => Self::Infra(e),
            // Not produced on this path.
            other => Self::Infra(InfraError::Unexpected(other.to_string().into())),
        }
    }
}

impl<P: Ports> Portcullis<P> {
    /// Request options for a sign-in with a passkey. They never list credentials, so they
    /// answer every address alike (known or not, with passkeys or not): the user picks a
    /// discoverable credential on the authenticator. With `email`, the ceremony accepts
    /// only a passkey of that address's account.
    ///
    /// # Errors
    /// [`PasskeySignInError::RateLimited`], or an infrastructure failure.
    pub async fn passkey_sign_in_options(
        &self,
        email: Option<&Email>,
        ctx: &RequestContext,
    ) -> Result<serde_json::Value, PasskeySignInError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(PasskeySignInError::RateLimited { retry_after });
        }
        let user_id = match email {
            Some(email) => self.store.user_by_email(email).await?.map(|u| u.id),
            None => None,
        };
        let started = self.passkeys.start_authentication(&[]).map_err(ceremony_failure)?;
        // An unknown address binds the ceremony to nobody: every passkey is then "another
        // account's" and refused, as for a known address.
        let binding = email.map(|e| self.secrets.digest(CEREMONY_DIGEST, e.as_str()));
        let purpose = CeremonyPurpose::SignIn;
        self.store_ceremony(started.challenge, purpose, user_id, binding, started.state, now).await?;
        Ok(started.options)
    }

    /// Signs in with the assertion `credential` (the browser's answer to
    /// [`Self::passkey_sign_in_options`]): the login outcome of a password login, at
    /// assurance level 2 when the authenticator verified the user. A counter that went
    /// backwards disables the passkey and tells its owner.
    ///
    /// # Errors
    /// As [`PasskeySignInError`] says.
    pub async fn passkey_sign_in(
        &self,
        credential: &serde_json::Value,
        remember_me: bool,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, PasskeySignInError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(PasskeySignInError::RateLimited { retry_after });
        }
        let Ok(claims) = self.passkeys.claims(credential) else {
            return Err(PasskeySignInError::InvalidCredential);
        };
        let ceremony = self.store.take_ceremony(self.secrets.digest(CEREMONY_DIGEST, &claims.challenge.0), now).await?;
        let Some(passkey) = self.store.passkey(claims.credential_id.clone()).await? else {
            return Err(PasskeySignInError::InvalidCredential);
        };
        let Some(owner) = self.store.user_by_id(passkey.user_id).await? else {
            return Err(PasskeySignInError::InvalidCredential);
        };
        // No live ceremony: a replay, or a double submit of a response already used. It can
        // never sign in, so it is audited but does not count against the owner's lockout.
        let Some(ceremony) = ceremony else {
            self.audit_passkey_failure(&owner, "unknown_challenge", ctx, now, None, Vec::new()).await?;
            return Err(PasskeySignInError::InvalidCredential);
        };
        // The owner's lockout, as for a password: every refusal from here on counts.
        let (permit, user) = match self.reserve_login_attempt(&owner.email, now).await? {
            (Limit::Allowed(permit), Some(user)) if user.id == owner.id => (permit, user),
            (Limit::Allowed(permit), _) => {
                let _ = self.release(permit).await;
                return Err(PasskeySignInError::InvalidCredential);
            }
            (Limit::Limited(retry_after), _) => {
                self.audit_passkey_failure(&owner, "too_many_attempts", ctx, now, None, Vec::new()).await?;
                return Err(PasskeySignInError::TooManyAttempts { retry_after });
            }
        };
        let refused = |reason| self.refuse(&user, reason, permit, ctx, now, Vec::new());
        if ceremony.purpose != CeremonyPurpose::SignIn {
            return refused("wrong_ceremony").await;
        }
        let handle_matches = claims.user_handle.as_deref().is_none_or(|h| h == user.id.as_uuid().as_bytes());
        let ceremony_matches = ceremony.binding.is_none() || ceremony.user_id == Some(user.id);
        if !handle_matches || !ceremony_matches {
            return refused("wrong_user").await;
        }
        if passkey.disabled_at.is_some() {
            return refused("passkey_disabled").await;
        }
        let verified = match self.passkeys.finish_authentication(&ceremony.state, credential, &passkey.credential) {
            Ok(verified) => verified,
            Err(PasskeyError::Refused(PasskeyRefusal::CounterWentBackwards)) => {
                let disable = self.disable_passkey(&user, &passkey, ctx, now);
                return self.refuse(&user, "counter_went_backwards", permit, ctx, now, disable).await;
            }
            Err(PasskeyError::Refused(refusal)) => return refused(refusal.audit_reason()).await,
            Err(PasskeyError::Malformed(_)) => return refused("malformed_credential").await,
            Err(e) => {
                let _ = self.release(permit).await;
                return Err(ceremony_failure(e).into());
            }
        };
        if let Some(block) = user.sign_in_block() {
            self.audit_passkey_failure(&user, block.audit_reason(), ctx, now, Some(permit), Vec::new()).await?;
            return Err(PasskeySignInError::Blocked(block));
        }
        let proof = SignInProof::passkey(verified.user_verified, verified.backed_up);
        let (mut changes, outcome) = match self.new_session(user.clone(), remember_me, &proof, ctx, now) {
            Ok(built) => built,
            Err(e) => {
                let _ = self.release(permit).await;
                return Err(e.into());
            }
        };
        changes.push(Change::UsePasskey {
            factor_id: passkey.factor_id,
            seen_count: passkey.sign_count,
            sign_count: verified.counter,
            credential: verified.credential,
            backed_up: verified.backed_up,
            at: now,
        });
        changes.push(Change::ReleasePermit(permit));
        match self.store.commit(changes).await {
            Ok(_) => Ok(outcome),
            Err(e) => {
                let _ = self.release(permit).await;
                match e {
                    // Another sign-in with this passkey committed first (the counter moved,
                    // or it was disabled or removed meanwhile): audited, not counted.
                    StoreError::Conflict => {
                        self.audit_passkey_failure(&user, "lost_race", ctx, now, None, Vec::new()).await?;
                        Err(PasskeySignInError::InvalidCredential)
                    }
                    e => Err(e.into()),
                }
            }
        }
    }

    /// Counts a refused assertion against `user`'s lockout and audits it, with `extra`
    /// changes (a disabled passkey) in the same commit.
    async fn refuse<T>(
        &self,
        user: &User,
        reason: &str,
        permit: Permit,
        ctx: &RequestContext,
        now: Timestamp,
        extra: Vec<Change>,
    ) -> Result<T, PasskeySignInError> {
        self.count_failure(permit).await?;
        self.audit_passkey_failure(user, reason, ctx, now, None, extra).await?;
        Err(PasskeySignInError::InvalidCredential)
    }

    /// An `auth.login.failure` entry of method `passkey`.
    async fn audit_passkey_failure(
        &self,
        user: &User,
        reason: &str,
        ctx: &RequestContext,
        now: Timestamp,
        release: Option<Permit>,
        extra: Vec<Change>,
    ) -> Result<(), PasskeySignInError> {
        let meta = metadata([("reason", json!(reason)), ("method", json!("passkey"))]);
        let mut changes = vec![self.audit(user.id, AuditAction::LoginFailure, ctx, meta, now)];
        changes.extend(extra);
        Ok(self.commit_releasing(release, changes).await?)
    }

    /// The writes that disable a passkey whose counter went backwards, and tell its owner.
    pub(crate) fn disable_passkey(
        &self,
        user: &User,
        passkey: &Passkey,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Vec<Change> {
        let meta = metadata([
            ("factor_id", passkey.factor_id.to_string().into()),
            ("reason", json!("counter_went_backwards")),
        ]);
        vec![
            Change::DisablePasskey { factor_id: passkey.factor_id, at: now },
            self.audit(user.id, AuditAction::MfaPasskeyDisabled, ctx, meta, now),
            self.mfa_notice(
                user,
                "One of your passkeys was disabled: its signature counter went backwards, which is what a copy of \
                 the key would show. If you did not expect this, sign in another way and remove it.",
                now,
            ),
        ]
    }
}
