//! A user's own second factors: enrol a TOTP authenticator, list, remove, renew recovery
//! codes; and an administrator's reset for a user who lost them.
//!
//! Every change of one's own factors re-enters the password (counted towards the login
//! lockout, as a password change is) and, once the account has an active factor, needs a
//! session that signed in with one ([`Aal::Two`](crate::model::Aal::Two)): a stolen
//! password-only session can neither add an attacker's authenticator to an account that
//! has one nor strip the owner's.

use std::time::Duration;

use crate::error::InfraError;
use crate::model::{
    AuditAction, Factor, FactorId, FactorKind, FactorName, OneTimeCode, Password, Permission, RECOVERY_CODE_PURPOSE,
    RECOVERY_CODES, RecoveryCode, RequestContext, TOTP_SECRET_BYTES, Timestamp, TotpSecret, User, UserId,
};
use crate::ports::{
    Change, FactorRepository, Ports, RandomSource, RateRule, SecretCipher, SecretHasher, StoreError, UnitOfWork,
    UserRepository,
};
use crate::service::{Limit, Portcullis};
use crate::usecases::admin::{Actor, AdminError};
use crate::usecases::authenticate::Principal;
use crate::usecases::common::metadata;
use crate::usecases::reauth::ReauthError;

/// A pending TOTP factor, as shown once to the user who scans it. Its `Debug` leaves the
/// secret (and the URI that carries it) out.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// The pending factor, to confirm with a code.
    pub factor_id: FactorId,
    /// The seed (base32 for typing in: [`TotpSecret::to_base32`]).
    pub secret: TotpSecret,
    /// The `otpauth://` URI a QR code carries.
    pub otpauth_uri: String,
    /// How long the factor waits for its confirming code.
    pub expires_in: Duration,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("factor_id", &self.factor_id)
            .field("secret", &"[REDACTED]")
            .field("otpauth_uri", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `GET /users/me/mfa`: the active factors and the unused recovery codes.
#[derive(Clone, Debug, PartialEq)]
pub struct MfaOverview {
    /// Active factors, oldest first (pending enrolments are left out).
    pub factors: Vec<Factor>,
    /// Those of `factors` that are refused at sign-in yet still count as the account's
    /// factor: passkeys disabled after their signature counter went backwards.
    pub disabled: Vec<FactorId>,
    /// Recovery codes not used yet.
    pub recovery_codes_remaining: u32,
}

/// Why a change of one's own factors was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaManageError {
    /// The password given is not the account's.
    #[error("invalid credentials")]
    WrongPassword,
    /// Too many failed password attempts (shared with login).
    #[error("too many failed attempts")]
    TooManyAttempts {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// The account has an active factor and this session did not sign in with one.
    #[error("this session must sign in with a second factor first")]
    SecondFactorRequired,
    /// No such factor of this user (or, to confirm, none pending).
    #[error("no such factor")]
    NotFound,
    /// The pending factor waited too long for its code: enrol again.
    #[error("the enrolment expired")]
    EnrolmentExpired,
    /// The code does not match the pending factor.
    #[error("invalid code")]
    InvalidCode,
    /// The pending factor took its last wrong code and is gone: enrol again.
    #[error("too many wrong codes for this enrolment")]
    CodeAttemptsExceeded,
    /// Recovery codes need an active factor to recover.
    #[error("no active second factor")]
    NoActiveFactor,
    /// A passkey's registration response was refused (the reason is in the audit entry).
    #[error("invalid credential")]
    InvalidCredential,
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for MfaManageError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl From<ReauthError> for MfaManageError {
    fn from(e: ReauthError) -> Self {
        match e {
            ReauthError::WrongPassword => Self::WrongPassword,
            ReauthError::TooManyAttempts { retry_after } => Self::TooManyAttempts { retry_after },
            ReauthError::Infra(e) => Self::Infra(e),
        }
    }
}

/// Codes a pending TOTP factor takes before it is deleted.
const ENROLMENT_TRIES: u32 = 5;

/// Fresh recovery codes (shown once) and their keyed digests (stored).
fn fresh_recovery_codes<R: RandomSource, S: SecretHasher>(
    random: &R,
    secrets: &S,
) -> (Vec<RecoveryCode>, Vec<crate::model::SecretDigest>) {
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES)
        .map(|_| {
            let mut bits = [0u8; 8];
            random.fill_bytes(&mut bits);
            RecoveryCode::from_random(bits)
        })
        .collect();
    let digests = codes.iter().map(|c| secrets.digest(RECOVERY_CODE_PURPOSE, c.expose())).collect();
    (codes, digests)
}

impl<P: Ports> Portcullis<P> {
    /// The caller's active factors and how many recovery codes are left.
    ///
    /// # Errors
    /// [`MfaManageError::SecondFactorRequired`] for a password-only session of an account
    /// with a factor.
    pub async fn mfa_overview(&self, principal: &Principal) -> Result<MfaOverview, MfaManageError> {
        let factors = self.own_factors(principal).await?;
        let codes = self.store.recovery_codes(principal.user.id).await?;
        let remaining = codes.iter().filter(|c| c.used_at.is_none()).count();
        let passkeys = self.store.passkeys(principal.user.id).await?;
        Ok(MfaOverview {
            factors: factors.into_iter().filter(Factor::is_active).collect(),
            disabled: passkeys.into_iter().filter(|p| p.disabled_at.is_some()).map(|p| p.factor_id).collect(),
            recovery_codes_remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        })
    }

    /// Starts a TOTP enrolment: a fresh 160-bit seed, sealed into a pending factor that a
    /// code from the authenticator confirms within [`crate::Policy::totp_enrolment_ttl`].
    ///
    /// # Errors
    /// As [`MfaManageError`] says (password, session level).
    pub async fn begin_totp_enrolment(
        &self,
        principal: &Principal,
        password: Password,
        name: FactorName,
        ctx: &RequestContext,
    ) -> Result<TotpEnrolment, MfaManageError> {
        let user = &principal.user;
        self.own_factors(principal).await?;
        let now = self.now();
        self.reauthenticate(user, password, ctx, now).await?;
        let mut seed = zeroize::Zeroizing::new(vec![0u8; TOTP_SECRET_BYTES]);
        self.random.fill_bytes(&mut seed);
        let secret = TotpSecret::from_bytes(seed.to_vec())
            .map_err(|e| InfraError::Unexpected(format!("generated TOTP seed: {e}").into()))?;
        let factor_id = FactorId::new_v7();
        let sealed = self
            .cipher
            .seal(&factor_id.to_string(), secret.expose_bytes())
            .map_err(|e| InfraError::Unexpected(format!("sealing a TOTP seed: {e}").into()))?;
        let factor = Factor {
            id: factor_id,
            user_id: user.id,
            kind: FactorKind::Totp,
            name,
            secret: sealed,
            created_at: now,
            confirmed_at: None,
            last_used_step: None,
            last_used_at: None,
        };
        self.store.commit(vec![Change::InsertFactor(factor)]).await?;
        let otpauth_uri = secret.otpauth_uri(&self.policy.product_name, user.email.as_str());
        Ok(TotpEnrolment { factor_id, secret, otpauth_uri, expires_in: self.policy.totp_enrolment_ttl })
    }

    /// Activates a pending TOTP factor with a code from the authenticator, and returns it.
    /// The code's step is recorded, so that code never signs in. The account's first active
    /// factor comes with ten recovery codes, returned here once. Audited (`mfa.factor.enrolled`), mailed, and
    /// every other session of the user is revoked; this one stays as it signed in.
    ///
    /// # Errors
    /// [`MfaManageError::NotFound`] (no such pending factor of the caller),
    /// [`MfaManageError::EnrolmentExpired`], [`MfaManageError::InvalidCode`], and the session
    /// level as for every change.
    pub async fn confirm_totp_enrolment(
        &self,
        principal: &Principal,
        factor_id: FactorId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<(Factor, Option<Vec<RecoveryCode>>), MfaManageError> {
        let user = &principal.user;
        let factors = self.own_factors(principal).await?;
        let factor = factors
            .iter()
            .find(|f| f.id == factor_id && !f.is_active() && f.kind == FactorKind::Totp)
            .ok_or(MfaManageError::NotFound)?;
        let now = self.now();
        if now >= factor.created_at.plus(self.policy.totp_enrolment_ttl) {
            return Err(MfaManageError::EnrolmentExpired);
        }
        // Every try counts, before the comparison: a stolen password-only session cannot
        // guess its way into the owner's enrolment (and its recovery codes). Past the last
        // try the enrolment is gone; the owner starts again with a new secret.
        let tries = vec![RateRule { window: self.policy.totp_enrolment_ttl, max: ENROLMENT_TRIES }];
        if let Limit::Limited(_) = self.limit(format!("totp-confirm:{factor_id}"), tries, now).await? {
            self.store.commit(vec![Change::DeleteFactor { user_id: user.id, factor_id }]).await?;
            return Err(MfaManageError::CodeAttemptsExceeded);
        }
        let code = OneTimeCode::parse(code).map_err(|_| MfaManageError::InvalidCode)?;
        let seed = self
            .cipher
            .open(&factor.id.to_string(), &factor.secret)
            .map_err(|e| InfraError::Unexpected(format!("TOTP seed of factor {}: {e}", factor.id).into()))?;
        let secret = TotpSecret::from_bytes(seed.to_vec())
            .map_err(|e| InfraError::Unexpected(format!("TOTP seed of factor {}: {e}", factor.id).into()))?;
        let step = secret.matching_step(&code, now, None).ok_or(MfaManageError::InvalidCode)?;
        let confirmed = Factor { confirmed_at: Some(now), last_used_step: Some(step), ..factor.clone() };
        let first = !factors.iter().any(Factor::is_active);
        match self.commit_confirmation(principal, factor, step, first, ctx, now).await {
            // Another factor of the account became active meanwhile (its confirmation won a
            // race): this one is not the first, and the recovery codes are that one's.
            Err(StoreError::Conflict) if first => {
                match self.commit_confirmation(principal, factor, step, false, ctx, now).await {
                    Ok(codes) => Ok((confirmed, codes)),
                    Err(StoreError::Conflict) => Err(MfaManageError::NotFound),
                    Err(e) => Err(e.into()),
                }
            }
            Ok(codes) => Ok((confirmed, codes)),
            // Confirmed by a parallel request meanwhile.
            Err(StoreError::Conflict) => Err(MfaManageError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The commit of a confirmation. The account's `first` active factor brings fresh
    /// recovery codes, under a guard that no other factor became active meanwhile
    /// ([`Change::ExpectNoSecondFactor`], before this factor's own activation), so two
    /// factors confirmed at once never both hand out codes.
    async fn commit_confirmation(
        &self,
        principal: &Principal,
        factor: &Factor,
        step: crate::model::TotpStep,
        first: bool,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<Option<Vec<RecoveryCode>>, StoreError> {
        let user = &principal.user;
        let mut changes = Vec::new();
        let codes = first.then(|| self.first_factor_codes(user.id, &mut changes, now));
        let meta = metadata([
            ("factor_id", factor.id.to_string().into()),
            ("type", factor.kind.as_str().into()),
            ("name", factor.name.as_str().into()),
        ]);
        changes.extend([
            Change::ConfirmFactor { factor_id: factor.id, step, at: now },
            Change::RevokeUserSessions { user_id: user.id, except: Some(principal.session_id), at: now },
            self.audit(user.id, AuditAction::MfaFactorEnrolled, ctx, meta, now),
            self.mfa_notice(
                user,
                &format!("A second factor, {}, was added to your account.", factor.name.as_str()),
                now,
            ),
        ]);
        self.store.commit(changes).await?;
        Ok(codes)
    }

    /// Fresh recovery codes for the account's first active factor, shown once: pushes onto
    /// `changes` the guard that no other factor became active meanwhile
    /// ([`Change::ExpectNoSecondFactor`], which must come before the factor's own
    /// activation) and the codes' digests, so two first factors at once never both hand out
    /// codes.
    pub(crate) fn first_factor_codes(
        &self,
        user_id: UserId,
        changes: &mut Vec<Change>,
        now: Timestamp,
    ) -> Vec<RecoveryCode> {
        let (codes, digests) = fresh_recovery_codes(&self.random, &self.secrets);
        changes.push(Change::ExpectNoSecondFactor { user_id });
        changes.push(Change::ReplaceRecoveryCodes { user_id, digests, at: now });
        codes
    }

    /// Removes one of the caller's factors (pending or active) and returns it. Removing the
    /// last active one turns the second step off and deletes the recovery codes. Audited
    /// (`mfa.factor.removed`) and mailed.
    ///
    /// # Errors
    /// [`MfaManageError::NotFound`], and the password and session level as for every change.
    pub async fn remove_factor(
        &self,
        principal: &Principal,
        factor_id: FactorId,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<Factor, MfaManageError> {
        let user = &principal.user;
        let factors = self.own_factors(principal).await?;
        let factor = factors.iter().find(|f| f.id == factor_id).ok_or(MfaManageError::NotFound)?;
        let now = self.now();
        self.reauthenticate(user, password, ctx, now).await?;
        let last = factor.is_active() && factors.iter().filter(|f| f.is_active()).count() == 1;
        let meta = metadata([
            ("factor_id", factor_id.to_string().into()),
            ("type", factor.kind.as_str().into()),
            ("name", factor.name.as_str().into()),
            ("mfa_enabled", (!last && factors.iter().any(|f| f.is_active() && f.id != factor_id)).into()),
        ]);
        let mut changes = vec![
            Change::DeleteFactor { user_id: user.id, factor_id },
            self.audit(user.id, AuditAction::MfaFactorRemoved, ctx, meta, now),
        ];
        if factor.is_active() {
            let what = if last {
                format!(
                    "Your last second factor, {}, was removed: signing in needs only your password now.",
                    factor.name.as_str()
                )
            } else {
                format!("A second factor, {}, was removed from your account.", factor.name.as_str())
            };
            changes.push(self.mfa_notice(user, &what, now));
        }
        self.store.commit(changes).await?;
        Ok(factor.clone())
    }

    /// Ten new recovery codes, returned once; the old ones stop working. Audited
    /// (`mfa.recovery_codes.regenerated`) and mailed.
    ///
    /// # Errors
    /// [`MfaManageError::NoActiveFactor`] without an active factor, and the password and
    /// session level as for every change.
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<Vec<RecoveryCode>, MfaManageError> {
        let user = &principal.user;
        let factors = self.own_factors(principal).await?;
        if !factors.iter().any(Factor::is_active) {
            return Err(MfaManageError::NoActiveFactor);
        }
        let now = self.now();
        self.reauthenticate(user, password, ctx, now).await?;
        let (codes, digests) = fresh_recovery_codes(&self.random, &self.secrets);
        let changes = vec![
            Change::ReplaceRecoveryCodes { user_id: user.id, digests, at: now },
            self.audit(user.id, AuditAction::MfaRecoveryCodesRegenerated, ctx, metadata([]), now),
            self.mfa_notice(user, "New recovery codes were made for your account; the old ones no longer work.", now),
        ];
        self.store.commit(changes).await?;
        Ok(codes)
    }

    /// Removes every factor and recovery code of a user who lost them (`users:write`), and
    /// revokes all their sessions; returns how many active factors went (0, changing
    /// nothing, for an account with no factor, pending or not, and no recovery code). Audited
    /// (`admin.user.mfa_reset`, with the actor) and mailed to the user. An administrator
    /// removes their own factors one by one instead.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::SelfTarget`].
    pub async fn admin_reset_mfa(&self, actor: &Actor, id: UserId, ctx: &RequestContext) -> Result<usize, AdminError> {
        actor.require(Permission::UsersWrite)?;
        if actor.is(id) {
            return Err(AdminError::SelfTarget);
        }
        let user = self.store.user_by_id(id).await?.ok_or(AdminError::NotFound)?;
        let now = self.now();
        let factors = self.store.factors(id).await?;
        if factors.is_empty() && self.store.recovery_codes(id).await?.is_empty() {
            // Nothing to reset: no sessions ended, no mail, no entry.
            return Ok(0);
        }
        let removed = factors.iter().filter(|f| f.is_active()).count();
        let meta = metadata([("actor_id", actor.audit_id()), ("factors_removed", removed.into())]);
        let changes = vec![
            Change::DeleteUserFactors { user_id: id },
            Change::RevokeUserSessions { user_id: id, except: None, at: now },
            self.audit(id, AuditAction::AdminUserMfaReset, ctx, meta, now),
            self.mfa_notice(
                &user,
                "An administrator removed every second factor of your account, and signed out all of its sessions. \
                 Set up a second factor again after you sign in.",
                now,
            ),
        ];
        self.store.commit(changes).await?;
        Ok(removed)
    }

    /// Whether `principal` holds one of [`crate::Policy::mfa_required_roles`] and has no
    /// active second factor yet: such a session may only enrol one (and read its own
    /// account) until it has. Reads the factors only for holders of those roles.
    ///
    /// # Errors
    /// [`InfraError`] when the factors cannot be read.
    pub async fn must_enrol_second_factor(&self, principal: &Principal) -> Result<bool, InfraError> {
        if !self.policy.mfa_required_roles.iter().any(|role| principal.user.roles.contains(*role)) {
            return Ok(false);
        }
        Ok(!self.store.factors(principal.user.id).await?.iter().any(Factor::is_active))
    }

    /// The caller's factors, pending ones included, after the session-level check: an
    /// account with an active factor is managed only from a session that used one.
    pub(crate) async fn own_factors(&self, principal: &Principal) -> Result<Vec<Factor>, MfaManageError> {
        let factors = self.store.factors(principal.user.id).await?;
        if principal.lacks_second_factor(&factors) {
            return Err(MfaManageError::SecondFactorRequired);
        }
        Ok(factors)
    }

    /// The "your second factors changed" mail.
    pub(crate) fn mfa_notice(&self, user: &User, change: &str, now: Timestamp) -> Change {
        let text = self.templates.mfa_changed(&self.policy.product_name, user.name.as_str(), change);
        self.mail_to(user, text, now)
    }
}
