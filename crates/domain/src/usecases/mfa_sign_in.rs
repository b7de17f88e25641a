//! The second step of a sign-in. A right password on an account with an active second factor
//! earns an `mfa_token` instead of a session ([`LoginError::MfaRequired`]); a TOTP code, a
//! recovery code or a passkey (answering options bound to the token) redeems it for the
//! session ([`Portcullis::verify_mfa`]).
//!
//! Three limits stand between a stolen password and the session, each its own counter:
//! the token burns after [`Policy::mfa_code_max_attempts`] wrong codes; the account refuses
//! codes after [`Policy::mfa_failures_per_account`] wrong ones in
//! [`Policy::mfa_failure_window`] (counted in the store, so on every instance, and apart from
//! the password lockout, so nobody locks the owner out of their password by guessing codes);
//! and each code works once, decided by a guarded write in the commit that starts the session.
//!
//! [`Policy::mfa_code_max_attempts`]: crate::Policy::mfa_code_max_attempts
//! [`Policy::mfa_failures_per_account`]: crate::Policy::mfa_failures_per_account
//! [`Policy::mfa_failure_window`]: crate::Policy::mfa_failure_window

use std::time::Duration;

use serde_json::json;

use crate::error::InfraError;
use crate::model::{
    AccountBlock, AuditAction, AuthMethod, CeremonyPurpose, CodeId, CodePurpose, Factor, FactorKind, OneTimeCode,
    RECOVERY_CODE_PURPOSE, RecoveryCode, RequestContext, StoredCeremony, StoredCode, Timestamp, TotpSecret, User,
    UserId,
};
use crate::ports::{
    Change, CodeRepository, FactorRepository, PasskeyCeremonies, PasskeyError, PasskeyRefusal, Permit, Ports,
    RandomSource, RateLimiter, RateRule, SecretCipher, SecretHasher, StoreError, UnitOfWork, UserRepository,
};
use crate::service::{Limit, Portcullis};
use crate::usecases::common::metadata;
use crate::usecases::login::{FirstStep, LoginError, LoginOutcome, SignInProof};
use crate::usecases::passkey_factors::{CEREMONY_DIGEST, PASSKEY_CEREMONY_TTL, ceremony_failure};

/// Purpose label of an `mfa_token`'s keyed digest.
pub(crate) const MFA_CHALLENGE_DIGEST: &str = "mfa-challenge";

/// A second factor a sign-in can be finished with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecondFactor {
    /// A code from an authenticator app.
    Totp,
    /// One of the account's recovery codes.
    RecoveryCode,
    /// One of the account's passkeys, answering the challenge's `webauthn_options`.
    Webauthn,
}

impl SecondFactor {
    /// The API name (`"totp"`, `"recovery_code"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Webauthn => "webauthn",
        }
    }
    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(Self::Totp),
            "recovery_code" => Some(Self::RecoveryCode),
            "webauthn" => Some(Self::Webauthn),
            _ => None,
        }
    }
}

/// What a right password earns on an account with an active second factor: no session yet.
#[derive(Clone)]
pub struct MfaChallenge {
    /// Opaque, single use; stored only as a keyed hash.
    pub mfa_token: String,
    /// The factors this account can finish with.
    pub factors: Vec<SecondFactor>,
    /// How long the token works.
    pub expires_in: Duration,
    /// For an account with a passkey: request options (`{"publicKey": ...}`) allowing its
    /// passkeys, whose challenge works only with this token.
    pub webauthn_options: Option<serde_json::Value>,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("mfa_token", &"[REDACTED]")
            .field("factors", &self.factors)
            .field("expires_in", &self.expires_in)
            .field("webauthn_options", &self.webauthn_options.is_some())
            .finish()
    }
}

/// `POST /auth/mfa/verify`. Its `Debug` leaves the token and the code out.
#[derive(Clone)]
pub struct MfaVerifyRequest {
    /// The token of [`MfaChallenge`].
    pub mfa_token: String,
    /// Which factor `code` is from.
    pub factor: SecondFactor,
    /// The code as typed (empty for [`SecondFactor::Webauthn`]).
    pub code: String,
    /// For [`SecondFactor::Webauthn`]: the `AuthenticationResponseJSON` answering the
    /// challenge's `webauthn_options`.
    pub credential: Option<serde_json::Value>,
}

impl std::fmt::Debug for MfaVerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaVerifyRequest")
            .field("mfa_token", &"[REDACTED]")
            .field("factor", &self.factor)
            .field("code", &"[REDACTED]")
            .field("credential", &self.credential.is_some())
            .finish()
    }
}

/// Why a second step was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaVerifyError {
    /// Too many calls from this IP.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The token is unknown, malformed, used or expired: sign in with the password again.
    #[error("unknown or expired mfa_token")]
    UnknownChallenge,
    /// The code is wrong (or was used already).
    #[error("invalid code")]
    InvalidCode,
    /// The passkey response was refused (a used or foreign challenge, another account's or
    /// a disabled passkey, a failed check); counted like a wrong code. The token still works
    /// until its tries are used up; the ceremony a response answered cannot be answered again.
    #[error("invalid credential")]
    InvalidCredential {
        /// Fresh request options bound to the same token, for another try without the
        /// password; `None` when no usable passkey is left or the token is burned.
        webauthn_options: Option<serde_json::Value>,
    },
    /// The token took its last wrong code and is burned.
    #[error("too many wrong codes for this mfa_token")]
    ChallengeBurned,
    /// Too many wrong codes for this account, on any token.
    #[error("too many wrong second-factor codes")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The account may no longer sign in (suspended or deleted since the password step).
    #[error("account blocked: {0:?}")]
    Blocked(AccountBlock),
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for MfaVerifyError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

/// What checking a passkey response at the second step found.
enum PasskeyCheck {
    /// The guarded write recording its use, and whether the key is synced.
    Passed(Box<Change>, bool),
    /// Refused, with the reason for the audit entry: counted like a wrong code.
    Refused(&'static str),
    /// No live ceremony answers it: used already (a replay or a double submit).
    NoCeremony,
}

/// How a second-factor check that holds a reservation ended, when not with a session.
enum Checked {
    /// The code is not a valid unused one (for a passkey, why it was refused): counted.
    Wrong(Option<&'static str>),
    /// A right code whose commit conflicted: a parallel request spent the code or the token.
    LostRace,
    /// Refused (burned token) or failed (a dependency): not counted.
    Refused(MfaVerifyError),
}

impl From<MfaVerifyError> for Checked {
    fn from(e: MfaVerifyError) -> Self {
        Self::Refused(e)
    }
}

impl From<StoreError> for Checked {
    fn from(e: StoreError) -> Self {
        Self::Refused(e.into())
    }
}

impl From<InfraError> for Checked {
    fn from(e: InfraError) -> Self {
        Self::Refused(e.into())
    }
}

/// The rate key under which wrong second-factor codes of `user_id` count.
fn mfa_key(user_id: UserId) -> String {
    format!("mfa:{user_id}")
}

/// An `mfa_token`: 256 random bits, then one digit: whether the sign-in asked to be
/// remembered (1), plus whether its first step was a mailed code rather than the password
/// (2). The whole string is digested, so the digit cannot be changed without the token
/// failing; tokens issued before mailed codes existed (`.0`, `.1`) read as password ones.
fn challenge_token(random: &str, first: FirstStep, remember_me: bool) -> String {
    let email_code = if first == FirstStep::EmailCode { 2 } else { 0 };
    format!("{random}.{}", email_code + u8::from(remember_me))
}

/// The first step and the "remember me" flag of a well-formed token; `None` for a
/// malformed one.
fn challenge_flags(token: &str) -> Option<(FirstStep, bool)> {
    match token.rsplit_once('.')? {
        (random, _)
            if random.len() < 32 || !random.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) =>
        {
            None
        }
        (_, "0") => Some((FirstStep::Password, false)),
        (_, "1") => Some((FirstStep::Password, true)),
        (_, "2") => Some((FirstStep::EmailCode, false)),
        (_, "3") => Some((FirstStep::EmailCode, true)),
        _ => None,
    }
}

/// The factors a sign-in can finish with, given the account's factors and whether it has
/// unused recovery codes.
fn finishing_factors(factors: &[Factor], passkeys: bool, recovery_codes_left: bool) -> Vec<SecondFactor> {
    let mut kinds = Vec::new();
    if factors.iter().any(|f| f.is_active() && f.kind == FactorKind::Totp) {
        kinds.push(SecondFactor::Totp);
    }
    if passkeys {
        kinds.push(SecondFactor::Webauthn);
    }
    if recovery_codes_left {
        kinds.push(SecondFactor::RecoveryCode);
    }
    kinds
}

impl<P: Ports> Portcullis<P> {
    /// The first step's answer for an account with an active factor: a challenge stored in
    /// the commit of `changes`, which give back the first step's reservation and lift the
    /// password lockout (the password or the mailed code was right), with a rehash if the
    /// login made one, or the mailed code's consumption.
    pub(crate) async fn issue_mfa_challenge(
        &self,
        user: &User,
        first: FirstStep,
        remember_me: bool,
        mut changes: Vec<Change>,
        now: Timestamp,
    ) -> Result<MfaChallenge, LoginError> {
        let challenge = self.prepare_mfa_challenge(user, first, remember_me, &mut changes, now).await?;
        self.store.commit(changes).await?;
        Ok(challenge)
    }

    /// The challenge of [`Self::issue_mfa_challenge`], its writes pushed onto `changes`
    /// for the caller to commit.
    pub(crate) async fn prepare_mfa_challenge(
        &self,
        user: &User,
        first: FirstStep,
        remember_me: bool,
        changes: &mut Vec<Change>,
        now: Timestamp,
    ) -> Result<MfaChallenge, StoreError> {
        let codes = self.store.recovery_codes(user.id).await?;
        let mfa_token = challenge_token(&self.random.url_token(), first, remember_me);
        let ttl = self.policy.mfa_challenge_ttl;
        let token_digest = self.secrets.digest(MFA_CHALLENGE_DIGEST, &mfa_token);
        let webauthn_options = self.bound_passkey_options(user, &token_digest, now.plus(ttl), changes, now).await?;
        let factors = finishing_factors(
            &self.store.factors(user.id).await?,
            webauthn_options.is_some(),
            codes.iter().any(|c| c.used_at.is_none()),
        );
        changes.push(Change::InsertCode(StoredCode {
            id: CodeId::new_v7(),
            user_id: user.id,
            purpose: CodePurpose::MfaChallenge,
            digest: token_digest,
            attempts: 0,
            expires_at: now.plus(ttl),
            consumed_at: None,
            created_at: now,
        }));
        Ok(MfaChallenge { mfa_token, factors, expires_in: ttl, webauthn_options })
    }

    /// Request options for `user`'s usable passkeys whose ceremony answers only the token of
    /// `token_digest`, and lasts until `token_expires_at` at most; the ceremony is pushed
    /// onto `changes`. `None` without a usable passkey, and when the options cannot be made
    /// (a stored credential that no longer parses): the passkeys are then left out rather
    /// than fail the sign-in, since the other factors still finish it.
    async fn bound_passkey_options(
        &self,
        user: &User,
        token_digest: &crate::model::SecretDigest,
        token_expires_at: Timestamp,
        changes: &mut Vec<Change>,
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let passkeys: Vec<_> = self
            .store
            .passkeys(user.id)
            .await?
            .into_iter()
            .filter(|p| p.disabled_at.is_none())
            .map(|p| p.credential)
            .collect();
        if passkeys.is_empty() {
            return Ok(None);
        }
        let Ok(started) = self.passkeys.start_authentication(&passkeys) else { return Ok(None) };
        changes.push(Change::InsertCeremony(StoredCeremony {
            digest: self.secrets.digest(CEREMONY_DIGEST, &started.challenge.0),
            purpose: CeremonyPurpose::SecondFactor,
            user_id: Some(user.id),
            binding: Some(token_digest.clone()),
            state: started.state,
            created_at: now,
            expires_at: token_expires_at.min(now.plus(PASSKEY_CEREMONY_TTL)),
        }));
        Ok(Some(started.options))
    }

    /// Finishes a sign-in with a second factor: the session and tokens of a login, at
    /// `aal` 2, audited as `auth.login.success` with `"mfa"` in its metadata and announced by
    /// the new-sign-in alert. A recovery code's use is mailed with how many remain.
    ///
    /// A TOTP code matching a step at or before the factor's last accepted one is refused
    /// (RFC 6238 §5.2), also the code that confirmed the factor; of parallel requests with
    /// one code, one gets the session and the others [`MfaVerifyError::InvalidCode`].
    ///
    /// # Errors
    /// As [`MfaVerifyError`] says.
    pub async fn verify_mfa(
        &self,
        req: MfaVerifyRequest,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, MfaVerifyError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(MfaVerifyError::RateLimited { retry_after });
        }
        let (first, remember_me) = challenge_flags(&req.mfa_token).ok_or(MfaVerifyError::UnknownChallenge)?;
        let digest = self.secrets.digest(MFA_CHALLENGE_DIGEST, &req.mfa_token);
        let challenge = match self.store.mfa_challenge(digest.clone()).await? {
            Some(c) if c.consumed_at.is_none() && now < c.expires_at => c,
            _ => return Err(MfaVerifyError::UnknownChallenge),
        };
        let user = self.store.user_by_id(challenge.user_id).await?.ok_or(MfaVerifyError::UnknownChallenge)?;
        if let Some(block) = user.sign_in_block() {
            return Err(MfaVerifyError::Blocked(block));
        }
        // Room under the account's limit first; from here on the reservation is resolved on
        // every path: counted for a wrong code, given back for anything else, so a failing
        // dependency never turns into a counted wrong code (and never locks the owner out).
        let permit = match self.reserve_mfa_attempt(user.id, now).await? {
            Limit::Allowed(p) => p,
            Limit::Limited(retry_after) => return Err(MfaVerifyError::TooManyAttempts { retry_after }),
        };
        match self.check_second_factor(&req, &challenge, &user, (first, remember_me), permit, ctx, now).await {
            Ok(outcome) => Ok(outcome),
            Err(Checked::Wrong(why)) => {
                Err(self.wrong_code(&user, first, Some(permit), req.factor, why, Some(&challenge), ctx, now).await)
            }
            Err(Checked::LostRace) => {
                let _ = self.release(permit).await;
                // The token went to a parallel request: for this one it is used (401). Else
                // the code did: it was a right code, not a guess, so it does not count
                // towards the lockout (a double submit must not lock the owner out).
                match self.store.mfa_challenge(digest).await {
                    Ok(Some(c)) if c.consumed_at.is_some() => Err(MfaVerifyError::UnknownChallenge),
                    _ => Err(self.wrong_code(&user, first, None, req.factor, None, Some(&challenge), ctx, now).await),
                }
            }
            Err(Checked::Refused(e)) => {
                let _ = self.release(permit).await;
                Err(e)
            }
        }
    }

    /// The part of [`Self::verify_mfa`] that holds the account's reservation `permit`: a try
    /// of the token, the code, and the commit that starts the session (which also gives the
    /// reservation back).
    #[allow(clippy::too_many_arguments)]
    async fn check_second_factor(
        &self,
        req: &MfaVerifyRequest,
        challenge: &StoredCode,
        user: &User,
        (first, remember_me): (FirstStep, bool),
        permit: Permit,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<LoginOutcome, Checked> {
        if self.store.count_code_attempt(challenge.id, self.policy.mfa_code_max_attempts).await?.is_none() {
            return Err(Checked::Refused(MfaVerifyError::ChallengeBurned));
        }
        let (spend, method) = match req.factor {
            SecondFactor::Totp => (self.matching_totp(user, &req.code, now).await?, AuthMethod::Totp),
            SecondFactor::RecoveryCode => {
                (self.matching_recovery_code(user, &req.code, now).await?, AuthMethod::RecoveryCode)
            }
            SecondFactor::Webauthn => {
                let credential = req.credential.as_ref().ok_or(Checked::Wrong(Some("malformed_credential")))?;
                match self.matching_passkey(user, credential, &challenge.digest, ctx, now).await? {
                    PasskeyCheck::Passed(spend, backed_up) => {
                        let key = if backed_up { AuthMethod::SoftwareKey } else { AuthMethod::HardwareKey };
                        (Some((*spend, None)), key)
                    }
                    PasskeyCheck::Refused(why) => return Err(Checked::Wrong(Some(why))),
                    // A replay or a double submit of a response already used: as a lost race,
                    // so it never counts against the owner.
                    PasskeyCheck::NoCeremony => return Err(Checked::LostRace),
                }
            }
        };
        let Some((spend, recovery_left)) = spend else { return Err(Checked::Wrong(None)) };
        let proof = SignInProof::second_factor(first, method, req.factor.as_str());
        let (mut changes, outcome) = self.new_session(user.clone(), remember_me, &proof, ctx, now)?;
        changes.extend([
            Change::ConsumeCode { id: challenge.id, at: now },
            spend,
            Change::ClearFailures { key: mfa_key(user.id), at: now },
            Change::ReleasePermit(permit),
        ]);
        if let Some(left) = recovery_left {
            let text = self.templates.recovery_code_used(&self.policy.product_name, user.name.as_str(), left);
            changes.push(self.mail_to(user, text, now));
        }
        match self.store.commit(changes).await {
            Ok(_) => Ok(outcome),
            // Another request spent the code or the token first.
            Err(StoreError::Conflict) => Err(Checked::LostRace),
            Err(e) => Err(e.into()),
        }
    }

    /// The guarded write that spends `code` if it is a valid TOTP code of one of `user`'s
    /// active factors, at a step after the factor's last one.
    async fn matching_totp(
        &self,
        user: &User,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<(Change, Option<u32>)>, MfaVerifyError> {
        let Ok(code) = OneTimeCode::parse(code) else { return Ok(None) };
        let factors = self.store.factors(user.id).await?;
        for factor in factors.into_iter().filter(|f| f.is_active() && f.kind == FactorKind::Totp) {
            // A seed that does not open (another key, a row copied from another factor) is
            // an operator's problem, not a wrong code: fail loudly rather than lock the user out.
            let unreadable =
                |why: String| InfraError::Unexpected(format!("TOTP seed of factor {}: {why}", factor.id).into());
            let seed =
                self.cipher.open(&factor.id.to_string(), &factor.secret).map_err(|e| unreadable(e.to_string()))?;
            let secret = TotpSecret::from_bytes(seed.to_vec()).map_err(|e| unreadable(e.to_string()))?;
            if let Some(step) = secret.matching_step(&code, now, factor.last_used_step) {
                return Ok(Some((Change::UseTotpStep { factor_id: factor.id, step, at: now }, None)));
            }
        }
        Ok(None)
    }

    /// The guarded write that records a use of one of `user`'s passkeys, if `credential`
    /// answers the ceremony bound to the token of `token_digest`, and whether that passkey
    /// is synced. The ceremony is used up whatever the outcome; a counter that went
    /// backwards disables the passkey (committed at once) and tells its owner.
    async fn matching_passkey(
        &self,
        user: &User,
        credential: &serde_json::Value,
        token_digest: &crate::model::SecretDigest,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<PasskeyCheck, MfaVerifyError> {
        let Ok(claims) = self.passkeys.claims(credential) else {
            return Ok(PasskeyCheck::Refused("malformed_credential"));
        };
        let digest = self.secrets.digest(CEREMONY_DIGEST, &claims.challenge.0);
        let Some(ceremony) = self.store.take_ceremony(digest, now).await? else { return Ok(PasskeyCheck::NoCeremony) };
        let bound = ceremony.purpose == CeremonyPurpose::SecondFactor
            && ceremony.user_id == Some(user.id)
            && ceremony.binding.as_ref().is_some_and(|b| b.ct_eq(token_digest));
        if !bound {
            return Ok(PasskeyCheck::Refused("wrong_ceremony"));
        }
        let Some(passkey) = self.store.passkey(claims.credential_id).await? else {
            return Ok(PasskeyCheck::Refused("unknown_credential"));
        };
        if passkey.user_id != user.id {
            return Ok(PasskeyCheck::Refused("wrong_user"));
        }
        if passkey.disabled_at.is_some() {
            return Ok(PasskeyCheck::Refused("passkey_disabled"));
        }
        match self.passkeys.finish_authentication(&ceremony.state, credential, &passkey.credential) {
            Ok(verified) => Ok(PasskeyCheck::Passed(
                Box::new(Change::UsePasskey {
                    factor_id: passkey.factor_id,
                    seen_count: passkey.sign_count,
                    sign_count: verified.counter,
                    credential: verified.credential,
                    backed_up: verified.backed_up,
                    at: now,
                }),
                verified.backed_up,
            )),
            Err(PasskeyError::Refused(PasskeyRefusal::CounterWentBackwards)) => {
                self.store.commit(self.disable_passkey(user, &passkey, ctx, now)).await?;
                Ok(PasskeyCheck::Refused(PasskeyRefusal::CounterWentBackwards.audit_reason()))
            }
            Err(PasskeyError::Refused(refusal)) => Ok(PasskeyCheck::Refused(refusal.audit_reason())),
            Err(PasskeyError::Malformed(_)) => Ok(PasskeyCheck::Refused("malformed_credential")),
            Err(e) => Err(ceremony_failure(e).into()),
        }
    }

    /// The guarded write that spends `code` if it is one of `user`'s unused recovery codes,
    /// and how many remain after it. Every stored digest is compared, in constant time.
    async fn matching_recovery_code(
        &self,
        user: &User,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<(Change, Option<u32>)>, MfaVerifyError> {
        let Ok(code) = RecoveryCode::parse(code) else { return Ok(None) };
        let typed = self.secrets.digest(RECOVERY_CODE_PURPOSE, code.expose());
        let unused: Vec<_> =
            self.store.recovery_codes(user.id).await?.into_iter().filter(|c| c.used_at.is_none()).collect();
        let mut found = None;
        for stored in &unused {
            if stored.digest.ct_eq(&typed) {
                found = Some(stored.digest.clone());
            }
        }
        let left = u32::try_from(unused.len().saturating_sub(1)).unwrap_or(u32::MAX);
        Ok(found.map(|digest| (Change::SpendRecoveryCode { user_id: user.id, digest, at: now }, Some(left))))
    }

    /// A wrong (or already used) code, audited as a failed sign-in (`invalid_mfa_code`).
    /// With `counted`, the reservation of a wrong code, it counts against the account and,
    /// when it fills the account's window, the owner (whose `first` step was right) is mailed.
    /// A refused passkey gets fresh options bound to `challenge`'s token (see
    /// [`Self::wrong_answer`]). The error to answer with.
    #[allow(clippy::too_many_arguments)]
    async fn wrong_code(
        &self,
        user: &User,
        first: FirstStep,
        counted: Option<Permit>,
        factor: SecondFactor,
        passkey_reason: Option<&'static str>,
        challenge: Option<&StoredCode>,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> MfaVerifyError {
        let mut meta = metadata([("reason", "invalid_mfa_code".into()), ("mfa", json!(factor.as_str()))]);
        if let Some(why) = passkey_reason {
            meta.insert("passkey_reason".to_owned(), json!(why));
        }
        let mut changes = vec![self.audit(user.id, AuditAction::LoginFailure, ctx, meta, now)];
        let Some(permit) = counted else {
            let wrong = self.wrong_answer(user, factor, challenge, &mut changes, now).await;
            return match self.store.commit(changes).await {
                Ok(_) => wrong,
                Err(e) => e.into(),
            };
        };
        if let Err(e) = self.count_failure(permit).await {
            return e.into();
        }
        let wrong = match self.mfa_lockout_started(user.id, now).await {
            Ok(true) => {
                changes.push(self.mail_to(
                    user,
                    self.templates.mfa_attempts_exceeded(
                        &self.policy.product_name,
                        user.name.as_str(),
                        first.signed_in_with(),
                    ),
                    now,
                ));
                // The account's next try is refused anyway: no options to tempt it.
                self.wrong_answer(user, factor, None, &mut changes, now).await
            }
            Ok(false) => self.wrong_answer(user, factor, challenge, &mut changes, now).await,
            Err(e) => return e.into(),
        };
        match self.store.commit(changes).await {
            Ok(_) => wrong,
            Err(e) => e.into(),
        }
    }

    /// The error for a wrong second step of `factor`. For a passkey: `INVALID_CREDENTIAL`
    /// with fresh options bound to `challenge`'s token while that token has tries left, as
    /// read again now (so parallel tries are seen), their ceremony pushed onto `changes`. A
    /// store failure here leaves the options out, never the wrong try uncounted.
    async fn wrong_answer(
        &self,
        user: &User,
        factor: SecondFactor,
        challenge: Option<&StoredCode>,
        changes: &mut Vec<Change>,
        now: Timestamp,
    ) -> MfaVerifyError {
        if factor != SecondFactor::Webauthn {
            return MfaVerifyError::InvalidCode;
        }
        let mut webauthn_options = None;
        if let Some(read) = challenge
            && let Ok(Some(token)) = self.store.mfa_challenge(read.digest.clone()).await
            && token.attempts < self.policy.mfa_code_max_attempts
            && token.consumed_at.is_none()
            && now < token.expires_at
        {
            webauthn_options =
                self.bound_passkey_options(user, &token.digest, token.expires_at, changes, now).await.unwrap_or(None);
        }
        MfaVerifyError::InvalidCredential { webauthn_options }
    }

    /// Reserves a code check under the account's wrong-code limit.
    async fn reserve_mfa_attempt(&self, user_id: UserId, now: Timestamp) -> Result<Limit, InfraError> {
        let decision = self
            .store
            .reserve_attempt(
                &mfa_key(user_id),
                self.policy.mfa_rules(),
                now,
                self.policy.login_attempt_hold.min(self.policy.mfa_failure_window),
                self.policy.login_attempt_patience,
            )
            .await?;
        crate::service::attempt_limit(decision)
    }

    /// Whether the account's wrong codes now fill its window, for the first time in it: the
    /// window is probed with a reservation given straight back, and one mail per window is
    /// allowed by a limit of its own, so racing failures mail once.
    async fn mfa_lockout_started(&self, user_id: UserId, now: Timestamp) -> Result<bool, InfraError> {
        match self.reserve_mfa_attempt(user_id, now).await {
            Ok(Limit::Allowed(probe)) => {
                self.release(probe).await?;
                Ok(false)
            }
            Ok(Limit::Limited(_)) => {
                let once = vec![RateRule { window: self.policy.mfa_failure_window, max: 1 }];
                Ok(matches!(self.limit(format!("mfa-lockout-mail:{user_id}"), once, now).await?, Limit::Allowed(_)))
            }
            // Parallel checks hold the room: whichever of them fills it mails.
            Err(InfraError::Busy { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_first_step_and_the_remember_me_flag_and_nothing_else_parses() {
        let random = "a".repeat(43);
        for first in [FirstStep::Password, FirstStep::EmailCode] {
            for remember_me in [true, false] {
                let token = challenge_token(&random, first, remember_me);
                assert_eq!(challenge_flags(&token), Some((first, remember_me)), "{token}");
            }
        }
        // Tokens issued before mailed codes existed still read as password ones.
        assert_eq!(challenge_flags(&format!("{random}.1")), Some((FirstStep::Password, true)));
        for bad in
            ["", ".1", "short.1", &format!("{random}.4"), &format!("{random}1"), &format!("{}.1", "a+".repeat(20))]
        {
            assert_eq!(challenge_flags(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn factor_names_round_trip() {
        for factor in [SecondFactor::Totp, SecondFactor::RecoveryCode, SecondFactor::Webauthn] {
            assert_eq!(SecondFactor::parse(factor.as_str()), Some(factor));
        }
        assert_eq!(SecondFactor::parse("sms"), None);
    }

    #[test]
    fn debug_hides_tokens_and_codes() {
        let req = MfaVerifyRequest {
            mfa_token: "tok-secret".into(),
            factor: SecondFactor::Totp,
            code: "123456".into(),
            credential: None,
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("tok-secret") && !shown.contains("123456"), "{shown}");
        let ch = MfaChallenge {
            mfa_token: "tok-secret".into(),
            factors: vec![],
            expires_in: Duration::from_secs(1),
            webauthn_options: None,
        };
        assert!(!format!("{ch:?}").contains("tok-secret"));
    }
}
