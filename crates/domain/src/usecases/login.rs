//! Login with email and password, in the contract's check order.

use std::time::Duration;

use serde_json::json;

use crate::error::InfraError;
use crate::mail_templates::SignedInWith;
use crate::model::{
    Aal, AccountBlock, AuditAction, AuthMethod, Email, Location, NewAuditEntry, Password, RequestContext, Session,
    SessionId, Timestamp, User,
};
use crate::ports::{
    AccessClaims, Change, PasswordHasher, Permit, Ports, RandomSource, SecretHasher, StoreError, TokenIssuer,
    UnitOfWork,
};
use crate::service::{Limit, Portcullis, clear_login_failures};
use crate::usecases::common::REFRESH_DIGEST;
use crate::usecases::mfa_sign_in::MfaChallenge;

/// What proved the account's owner before a second factor: the `mfa_token` carries it, so
/// the session the factor finishes names both steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirstStep {
    /// The password (`POST /auth/login`).
    Password,
    /// A mailed sign-in code (`POST /auth/login/code/verify`).
    EmailCode,
}

impl FirstStep {
    /// Its `amr` value.
    fn method(self) -> AuthMethod {
        match self {
            Self::Password => AuthMethod::Password,
            Self::EmailCode => AuthMethod::EmailCode,
        }
    }
    /// What the mails about this sign-in say was used.
    pub(crate) fn signed_in_with(self) -> SignedInWith {
        match self {
            Self::Password => SignedInWith::Password,
            Self::EmailCode => SignedInWith::EmailCode,
        }
    }
    /// The audit entry's `"method"`.
    pub(crate) const fn audit_name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::EmailCode => "email_code",
        }
    }
}

/// How a new session's holder proved who they are.
pub(crate) struct SignInProof {
    aal: Aal,
    amr: Vec<AuthMethod>,
    /// The audit entry's `"method"`: how the sign-in began.
    method: &'static str,
    /// The second factor's name for the audit entry's `"mfa"`, if one was used.
    mfa: Option<&'static str>,
}

impl SignInProof {
    /// A password alone.
    pub(crate) fn password() -> Self {
        Self { aal: Aal::One, amr: vec![AuthMethod::Password], method: FirstStep::Password.audit_name(), mfa: None }
    }
    /// A mailed code alone.
    pub(crate) fn email_code() -> Self {
        let method = FirstStep::EmailCode.audit_name();
        Self { aal: Aal::One, amr: vec![AuthMethod::EmailCode], method, mfa: None }
    }
    /// The `first` step, then `method` (named `name` in the audit entry).
    pub(crate) fn second_factor(first: FirstStep, method: AuthMethod, name: &'static str) -> Self {
        Self { aal: Aal::Two, amr: vec![first.method(), method], method: first.audit_name(), mfa: Some(name) }
    }
    /// A passkey without a password: two factors when the authenticator verified the user
    /// (something held and something known or been), one otherwise; `hwk` for a key bound
    /// to its device, `swk` for a synced one.
    pub(crate) fn passkey(user_verified: bool, backed_up: bool) -> Self {
        let key = if backed_up { AuthMethod::SoftwareKey } else { AuthMethod::HardwareKey };
        let aal = if user_verified { Aal::Two } else { Aal::One };
        Self { aal, amr: vec![key], method: "passkey", mfa: None }
    }
    /// What the new-sign-in alert advises after this proof.
    fn signed_in_with(&self) -> SignedInWith {
        match self.method {
            "passkey" => SignedInWith::Passkey,
            "email_code" => SignedInWith::EmailCode,
            _ => SignedInWith::Password,
        }
    }
}

/// A login request. The password is not checked against the policy: a short wrong one is
/// simply wrong.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// Address.
    pub email: Email,
    /// Password as typed.
    pub password: Password,
    /// Keep the session for longer.
    pub remember_me: bool,
}

/// A successful login. Its `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct LoginOutcome {
    /// The account.
    pub user: User,
    /// The new session.
    pub session_id: SessionId,
    /// PASETO access token.
    pub access_token: String,
    /// Access-token lifetime.
    pub expires_in: Duration,
    /// Refresh token (stored only as a keyed hash).
    pub refresh_token: String,
    /// This login's location.
    pub location: Option<Location>,
}

impl std::fmt::Debug for LoginOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOutcome")
            .field("user", &self.user)
            .field("session_id", &self.session_id)
            .field("access_token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"[REDACTED]")
            .field("location", &self.location)
            .finish()
    }
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Too many calls from this IP.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Too many failed attempts for this address.
    #[error("too many failed login attempts")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Wrong password or unknown address: one answer for both.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Right password, but the account may not sign in.
    #[error("account blocked: {0:?}")]
    Blocked(AccountBlock),
    /// Right password on an account with an active second factor: no session yet; the
    /// challenge's token and a code finish the sign-in ([`Portcullis::verify_mfa`]).
    #[error("a second factor is required")]
    MfaRequired(MfaChallenge),
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Logs in. Checks run in the contract's order: per-IP limit, per-account failure limit
    /// (before any password work), password (dummy hash for unknown addresses), then account
    /// state. Every attempt on an existing account is audited.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let request = LoginRequest { email: email("laura@example.com"), password: Password::new(PASSWORD), remember_me: false };
    /// let outcome = auth.login(request, &ctx).await.unwrap();
    /// assert!(!outcome.access_token.is_empty() && !outcome.refresh_token.is_empty());
    /// let wrong = LoginRequest { email: email("laura@example.com"), password: Password::new("guess"), remember_me: false };
    /// assert!(matches!(auth.login(wrong, &ctx).await, Err(LoginError::InvalidCredentials)));
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn login(&self, req: LoginRequest, ctx: &RequestContext) -> Result<LoginOutcome, LoginError> {
        let now = self.now();
        // Only a wrong password makes the reservation a counted failure: N parallel right
        // ones take turns for the slots instead of being refused.
        let (permit, user) = self.open_login_attempt(&req.email, None, ctx, now).await?;
        // An unknown address is checked against a dummy hash, so timing does not reveal it.
        let hash = user.as_ref().map_or_else(|| self.hasher.dummy_hash(), |u| u.password_hash.clone());
        let matches = match self.hasher.verify(req.password.clone(), hash).await {
            Ok(matches) => matches,
            Err(e) => {
                // No password was checked (the hashing pool is full, say): not a failed
                // attempt. Should the release fail too, the reservation expires into a
                // counted failure, which errs on the safe side.
                let _ = self.release(permit).await;
                return Err(InfraError::from(e).into());
            }
        };
        let user = match user {
            Some(user) if matches => user,
            Some(user) => {
                self.count_failure(permit).await?;
                self.audit_failure(&user, "invalid_password", None, ctx, now, None).await?;
                return Err(LoginError::InvalidCredentials);
            }
            None => {
                self.count_failure(permit).await?;
                return Err(LoginError::InvalidCredentials);
            }
        };
        // The password was right: the slot goes back in the commit that follows (the refusal's
        // audit, or the session), or just before a rehash.
        if let Some(block) = user.sign_in_block() {
            self.audit_failure(&user, block.audit_reason(), None, ctx, now, Some(permit)).await?;
            return Err(LoginError::Blocked(block));
        }
        // A rehash is a second hash: give the slot back before it rather than hold it through.
        let (rehash, unreleased) = if self.hasher.needs_rehash(&user.password_hash) {
            let _ = self.release(permit).await;
            (self.rehash(&user, req.password, now).await, None)
        } else {
            (None, Some(permit))
        };
        self.start_session(user, req.remember_me, rehash, unreleased, ctx, now).await
    }

    /// The checks before any credential of a sign-in (password or mailed code) is looked
    /// at: the per-IP limit, then a failure slot reserved for `email`, so N parallel guesses
    /// cannot all slip under the limit. The account comes with the decision, in the same
    /// store call; a refusal is audited on it, with `method` when not the password's.
    pub(crate) async fn open_login_attempt(
        &self,
        email: &Email,
        method: Option<&'static str>,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<(Permit, Option<User>), LoginError> {
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(LoginError::RateLimited { retry_after });
        }
        match self.reserve_login_attempt(email, now).await? {
            (Limit::Allowed(permit), user) => Ok((permit, user)),
            (Limit::Limited(retry_after), user) => {
                if let Some(user) = user {
                    self.audit_failure(&user, "too_many_attempts", method, ctx, now, None).await?;
                }
                Err(LoginError::TooManyAttempts { retry_after })
            }
        }
    }

    /// A password-only sign-in's commit, carrying [`Change::ExpectNoSecondFactor`]: an
    /// account with an active factor (even one activated a moment ago) gets a challenge
    /// instead, in a commit that gives the reservation `permit` back as the session's would.
    async fn start_session(
        &self,
        user: User,
        remember_me: bool,
        rehash: Option<Change>,
        permit: Option<Permit>,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<LoginOutcome, LoginError> {
        let (mut changes, outcome) =
            match self.new_session(user.clone(), remember_me, &SignInProof::password(), ctx, now) {
                Ok(built) => built,
                Err(e) => {
                    // Nothing was committed: give the right password's slot back (best effort).
                    if let Some(permit) = permit {
                        let _ = self.release(permit).await;
                    }
                    return Err(e.into());
                }
            };
        changes.extend(rehash.clone());
        changes.push(Change::ExpectNoSecondFactor { user_id: user.id });
        changes.extend(permit.map(Change::ReleasePermit));
        match self.store.commit(changes).await {
            Ok(_) => Ok(outcome),
            Err(StoreError::Conflict) => {
                let mut changes = vec![clear_login_failures(&user.email, now)];
                changes.extend(rehash);
                changes.extend(permit.map(Change::ReleasePermit));
                match self.issue_mfa_challenge(&user, FirstStep::Password, remember_me, changes, now).await {
                    Ok(challenge) => Err(LoginError::MfaRequired(challenge)),
                    Err(e) => {
                        if let Some(permit) = permit {
                            let _ = self.release(permit).await;
                        }
                        Err(e)
                    }
                }
            }
            Err(e) => {
                if let Some(permit) = permit {
                    let _ = self.release(permit).await;
                }
                Err(e.into())
            }
        }
    }

    /// A fresh hash of the right `password`, for a `user` whose hash was made with other
    /// parameters than the hasher's current ones. Best effort: a busy hashing pool leaves the
    /// old hash (still valid) for the next login to replace.
    async fn rehash(&self, user: &User, password: Password, now: Timestamp) -> Option<Change> {
        let hash = self.hasher.hash(password).await.ok()?;
        Some(Change::RehashPassword { user_id: user.id, previous: user.password_hash.clone(), hash, at: now })
    }

    /// Commits `changes` and, with them, releases `permit` (a right password's reservation
    /// not given back yet); should the commit fail, releases it on its own: a right password
    /// must not turn into a counted failure because the store failed once. Should that
    /// release fail too, the reservation expires into one counted failure, which errs on the
    /// safe side.
    pub(crate) async fn commit_releasing(
        &self,
        permit: Option<Permit>,
        changes: Vec<Change>,
    ) -> Result<(), LoginError> {
        match self.commit_holding_on_conflict(permit, changes).await {
            Err(StoreError::Conflict) => {
                if let Some(permit) = permit {
                    let _ = self.release(permit).await;
                }
                Err(StoreError::Conflict.into())
            }
            done => Ok(done?),
        }
    }

    /// [`Self::commit_releasing`], except that a conflict (which wrote nothing) leaves
    /// `permit` held, for a caller that may still spend it on a second commit.
    pub(crate) async fn commit_holding_on_conflict(
        &self,
        permit: Option<Permit>,
        mut changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        changes.extend(permit.map(Change::ReleasePermit));
        match self.store.commit(changes).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(StoreError::Conflict),
            Err(e) => {
                if let Some(permit) = permit {
                    let _ = self.release(permit).await;
                }
                Err(e)
            }
        }
    }

    /// Audits a refused login on `user`'s account; `release` is the reservation of a right
    /// password (a blocked account), given back in the same commit. A `method` other than the
    /// password's (which the entry leaves implicit, as it always has) goes into the metadata.
    pub(crate) async fn audit_failure(
        &self,
        user: &User,
        reason: &str,
        method: Option<&'static str>,
        ctx: &RequestContext,
        now: Timestamp,
        release: Option<Permit>,
    ) -> Result<(), LoginError> {
        let mut metadata = serde_json::Map::new();
        metadata.insert("reason".to_owned(), json!(reason));
        if let Some(method) = method {
            metadata.insert("method".to_owned(), json!(method));
        }
        let entry = NewAuditEntry {
            user_id: Some(user.id),
            action: AuditAction::LoginFailure,
            enrichment: self.enrich(ctx),
            fingerprint: None,
            metadata,
            created_at: now,
        };
        self.commit_releasing(release, vec![Change::AppendAudit(entry)]).await
    }

    /// The writes that start a session for `user` (the session, the `auth.login.success`
    /// entry, the lifted password lockout, the new-sign-in alert) and the outcome to answer
    /// with once they are committed; the tokens are issued here.
    pub(crate) fn new_session(
        &self,
        user: User,
        remember_me: bool,
        proof: &SignInProof,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<(Vec<Change>, LoginOutcome), InfraError> {
        let enrichment = self.enrich(ctx);
        let session_id = SessionId::new_v7();
        let refresh_token = self.random.url_token();
        // The alert's token goes into the session row itself: one statement fewer per login.
        let alert = self.sign_in_alert(&user, session_id, &enrichment, proof.signed_in_with(), now);
        let ttl = if remember_me { self.policy.remember_me_session_ttl } else { self.policy.session_ttl };
        let session = Session {
            id: session_id,
            user_id: user.id,
            refresh_token_hash: self.secrets.digest(REFRESH_DIGEST, &refresh_token),
            alert_token_hash: Some(alert.digest),
            alert_expires_at: Some(alert.expires_at),
            remember_me,
            ip_address: Some(enrichment.ip_address),
            user_agent: enrichment.user_agent.clone(),
            device: enrichment.device.clone(),
            location: enrichment.location.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(ttl),
            revoked_at: None,
            aal: proof.aal,
            amr: proof.amr.clone(),
        };
        let access_ttl = self.policy.access_ttl;
        let claims = AccessClaims {
            user_id: user.id,
            session_id,
            issued_at: now,
            expires_at: now.plus(access_ttl),
            aal: proof.aal,
            amr: proof.amr.clone(),
        };
        let access_token = self.tokens.issue(&claims)?;
        let mut metadata = serde_json::Map::new();
        metadata.insert("method".to_owned(), json!(proof.method));
        metadata.insert("remember_me".to_owned(), json!(remember_me));
        if let Some(mfa) = proof.mfa {
            metadata.insert("mfa".to_owned(), json!(mfa));
        }
        let audit = NewAuditEntry {
            user_id: Some(user.id),
            action: AuditAction::LoginSuccess,
            enrichment: enrichment.clone(),
            fingerprint: None,
            metadata,
            created_at: now,
        };
        let mut changes =
            vec![Change::InsertSession(session), Change::AppendAudit(audit), clear_login_failures(&user.email, now)];
        changes.extend(alert.changes);
        let outcome = LoginOutcome {
            location: enrichment.location,
            user,
            session_id,
            access_token,
            expires_in: access_ttl,
            refresh_token,
        };
        Ok((changes, outcome))
    }
}
