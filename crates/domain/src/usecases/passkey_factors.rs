//! A user's own passkeys: creation options, registration, the list, removal. A passkey is a
//! second factor of type `webauthn` (section 8): adding the first one brings recovery codes
//! and signs the other sessions out, and every change confirms the password and, once a
//! factor is active, needs a session that signed in with one.

use std::time::Duration;

use serde_json::json;

use crate::error::InfraError;
use crate::model::{
    AuditAction, CeremonyPurpose, Factor, FactorId, FactorKind, FactorName, Passkey, Password, RecoveryCode,
    RequestContext, SealedSecret, StoredCeremony, Timestamp,
};
use crate::ports::{
    Change, FactorRepository, PasskeyCeremonies, PasskeyError, PasskeyOwner, Ports, SecretHasher, StoreError,
    UnitOfWork,
};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;
use crate::usecases::common::metadata;
use crate::usecases::mfa_factors::MfaManageError;

/// Purpose label of the keyed hash under which a ceremony's challenge is stored.
pub(crate) const CEREMONY_DIGEST: &str = "webauthn-challenge";

/// How long a ceremony's challenge is accepted (contract section 9: five minutes).
pub const PASSKEY_CEREMONY_TTL: Duration = Duration::from_secs(300);

/// A passkey as its owner lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct PasskeySummary {
    /// The factor (id, name, `created_at`, `last_used_at`).
    pub factor: Factor,
    /// Synced between devices, as of its last use.
    pub backed_up: bool,
    /// Disabled because its counter went backwards (a possible clone).
    pub disabled: bool,
}

/// A passkey just registered, with the recovery codes the account's first factor brings.
#[derive(Clone, Debug)]
pub struct RegisteredPasskeyFactor {
    /// The new factor.
    pub factor: Factor,
    /// Its credential.
    pub passkey: Passkey,
    /// Ten recovery codes, shown once, when it is the account's first active factor.
    pub recovery_codes: Option<Vec<RecoveryCode>>,
}

impl<P: Ports> Portcullis<P> {
    /// Creation options for a new passkey of the caller (their own passkeys excluded),
    /// after the password; the ceremony waits [`PASSKEY_CEREMONY_TTL`] for its response.
    ///
    /// # Errors
    /// As [`MfaManageError`] says (password, session level).
    pub async fn passkey_registration_options(
        &self,
        principal: &Principal,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<serde_json::Value, MfaManageError> {
        let user = &principal.user;
        self.own_factors(principal).await?;
        let now = self.now();
        self.reauthenticate(user, password, ctx, now).await?;
        let exclude: Vec<_> = self.store.passkeys(user.id).await?.into_iter().map(|p| p.credential_id).collect();
        let display_name = if user.name.as_str().is_empty() { user.email.as_str() } else { user.name.as_str() };
        let owner = PasskeyOwner {
            user_id: user.id,
            name: user.email.as_str().to_owned(),
            display_name: display_name.to_owned(),
        };
        let started = self.passkeys.start_registration(&owner, &exclude).map_err(ceremony_failure)?;
        self.store_ceremony(started.challenge, CeremonyPurpose::Registration, Some(user.id), None, started.state, now)
            .await?;
        Ok(started.options)
    }

    /// Keeps a started ceremony for [`PASSKEY_CEREMONY_TTL`].
    pub(crate) async fn store_ceremony(
        &self,
        challenge: crate::model::CeremonyChallenge,
        purpose: CeremonyPurpose,
        user_id: Option<crate::model::UserId>,
        binding: Option<crate::model::SecretDigest>,
        state: crate::model::CeremonyState,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let ceremony = StoredCeremony {
            digest: self.secrets.digest(CEREMONY_DIGEST, &challenge.0),
            purpose,
            user_id,
            binding,
            state,
            created_at: now,
            expires_at: now.plus(PASSKEY_CEREMONY_TTL),
        };
        self.store.commit(vec![Change::InsertCeremony(ceremony)]).await.map(|_| ())
    }

    /// Registers the passkey a registration `credential` (the browser's response to
    /// [`Self::passkey_registration_options`]) proves, named `name`. The ceremony is used up
    /// whatever the outcome. The account's first active factor brings ten recovery codes and
    /// signs the user's other sessions out; audited (`mfa.factor.enrolled`) and mailed.
    /// A refused response is audited as `mfa.passkey.refused` with its reason.
    ///
    /// # Errors
    /// [`MfaManageError::InvalidCredential`] for a response that does not answer a live
    /// registration ceremony of the caller, fails a check, or names a credential already
    /// registered; and the session level as for every change.
    pub async fn register_passkey(
        &self,
        principal: &Principal,
        name: FactorName,
        credential: &serde_json::Value,
        ctx: &RequestContext,
    ) -> Result<RegisteredPasskeyFactor, MfaManageError> {
        let user = &principal.user;
        let factors = self.own_factors(principal).await?;
        let now = self.now();
        let registered = match self.check_registration(principal, credential, now).await? {
            Ok(registered) => registered,
            Err(reason) => {
                let meta = metadata([("reason", json!(reason))]);
                self.store.commit(vec![self.audit(user.id, AuditAction::MfaPasskeyRefused, ctx, meta, now)]).await?;
                return Err(MfaManageError::InvalidCredential);
            }
        };
        // Inserted pending in a commit of its own, then activated: the activation then
        // updates an existing row, which orders it with a concurrent password-only login
        // and with a removal of the user's other factors, exactly as a TOTP confirmation.
        let pending = Factor {
            id: FactorId::new_v7(),
            user_id: user.id,
            kind: FactorKind::Webauthn,
            name,
            // Nothing to keep secret: the credential is a public key, kept beside the factor.
            secret: SealedSecret(Vec::new()),
            created_at: now,
            confirmed_at: None,
            last_used_step: None,
            last_used_at: None,
        };
        self.store.commit(vec![Change::InsertFactor(pending.clone())]).await?;
        let factor = Factor { confirmed_at: Some(now), ..pending };
        let passkey = Passkey {
            factor_id: factor.id,
            user_id: user.id,
            credential_id: registered.credential_id,
            credential: registered.credential,
            sign_count: 0,
            user_verified: registered.user_verified,
            backed_up: registered.backed_up,
            disabled_at: None,
        };
        let first = !factors.iter().any(Factor::is_active);
        let outcome = match self.commit_passkey(principal, &factor, &passkey, first, ctx, now).await {
            // Another factor became active meanwhile: this one is not the first.
            Err(StoreError::Conflict) if first => {
                self.commit_passkey(principal, &factor, &passkey, false, ctx, now).await
            }
            other => other,
        };
        match outcome {
            Ok(recovery_codes) => Ok(RegisteredPasskeyFactor { factor, passkey, recovery_codes }),
            // The credential is registered already (to this account or another).
            Err(StoreError::Conflict) => {
                let meta = metadata([("reason", json!("credential_registered"))]);
                self.store
                    .commit(vec![
                        Change::DeleteFactor { user_id: user.id, factor_id: factor.id },
                        self.audit(user.id, AuditAction::MfaPasskeyRefused, ctx, meta, now),
                    ])
                    .await?;
                Err(MfaManageError::InvalidCredential)
            }
            Err(e) => {
                // Best effort: housekeeping removes it otherwise, with the stale enrolments.
                let _ = self.store.commit(vec![Change::DeleteFactor { user_id: user.id, factor_id: factor.id }]).await;
                Err(e.into())
            }
        }
    }

    /// The checks of a registration response: its ceremony (taken, so it is used once),
    /// that ceremony's purpose and owner, then the engine's. `Ok(Err(reason))` is a refusal.
    async fn check_registration(
        &self,
        principal: &Principal,
        credential: &serde_json::Value,
        now: Timestamp,
    ) -> Result<Result<crate::ports::RegisteredPasskey, &'static str>, MfaManageError> {
        let claims = match self.passkeys.claims(credential) {
            Ok(claims) => claims,
            Err(e) => return refusal_or_failure(e),
        };
        let digest = self.secrets.digest(CEREMONY_DIGEST, &claims.challenge.0);
        let Some(ceremony) = self.store.take_ceremony(digest, now).await? else {
            return Ok(Err("unknown_challenge"));
        };
        if ceremony.purpose != CeremonyPurpose::Registration || ceremony.user_id != Some(principal.user.id) {
            return Ok(Err("wrong_ceremony"));
        }
        match self.passkeys.finish_registration(&ceremony.state, credential) {
            Ok(registered) => Ok(Ok(registered)),
            Err(e) => refusal_or_failure(e),
        }
    }

    /// The commit that activates a registered passkey's pending factor; the account's
    /// `first` active factor brings recovery codes under the same guard as a TOTP
    /// confirmation's (`ExpectNoSecondFactor` before the activation).
    async fn commit_passkey(
        &self,
        principal: &Principal,
        factor: &Factor,
        passkey: &Passkey,
        first: bool,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<Option<Vec<RecoveryCode>>, StoreError> {
        let user = &principal.user;
        let mut changes = Vec::new();
        let codes = first.then(|| {
            let codes = self.first_factor_codes(user.id, &mut changes, now);
            // The account turns two-factor now: no session that signed in without one stays.
            changes.push(Change::RevokeUserSessions { user_id: user.id, except: Some(principal.session_id), at: now });
            codes
        });
        let meta = metadata([
            ("factor_id", factor.id.to_string().into()),
            ("type", factor.kind.as_str().into()),
            ("name", factor.name.as_str().into()),
            ("backed_up", passkey.backed_up.into()),
        ]);
        changes.extend([
            Change::ActivateFactor { factor_id: factor.id, at: now },
            Change::InsertPasskey(passkey.clone()),
            self.audit(user.id, AuditAction::MfaFactorEnrolled, ctx, meta, now),
            self.mfa_notice(user, &format!("A passkey, {}, was added to your account.", factor.name.as_str()), now),
        ]);
        self.store.commit(changes).await?;
        Ok(codes)
    }

    /// The caller's passkeys, oldest first.
    ///
    /// # Errors
    /// [`MfaManageError::SecondFactorRequired`] for a password-only session of an account
    /// with a factor.
    pub async fn own_passkeys(&self, principal: &Principal) -> Result<Vec<PasskeySummary>, MfaManageError> {
        let factors = self.own_factors(principal).await?;
        let passkeys = self.store.passkeys(principal.user.id).await?;
        Ok(passkeys
            .into_iter()
            .filter_map(|p| {
                let factor = factors.iter().find(|f| f.id == p.factor_id)?.clone();
                Some(PasskeySummary { factor, backed_up: p.backed_up, disabled: p.disabled_at.is_some() })
            })
            .collect())
    }

    /// Removes one of the caller's passkeys, as [`Self::remove_factor`] removes a factor.
    ///
    /// # Errors
    /// [`MfaManageError::NotFound`] unless `factor_id` is a passkey of the caller, and the
    /// password and session level as for every change.
    pub async fn remove_passkey(
        &self,
        principal: &Principal,
        factor_id: FactorId,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<Factor, MfaManageError> {
        let factors = self.own_factors(principal).await?;
        if !factors.iter().any(|f| f.id == factor_id && f.kind == FactorKind::Webauthn) {
            return Err(MfaManageError::NotFound);
        }
        self.remove_factor(principal, factor_id, password, ctx).await
    }
}

/// A refusal's audit reason, or the failure of our own side.
fn refusal_or_failure<T>(e: PasskeyError) -> Result<Result<T, &'static str>, MfaManageError> {
    match e {
        PasskeyError::Refused(refusal) => Ok(Err(refusal.audit_reason())),
        PasskeyError::Malformed(_) => Ok(Err("malformed_credential")),
        other => Err(ceremony_failure(other).into()),
    }
}

/// An engine failure on our side (a stored state that does not parse).
pub(crate) fn ceremony_failure(e: PasskeyError) -> InfraError {
    InfraError::Unexpected(format!("passkey ceremony: {e}").into())
}
