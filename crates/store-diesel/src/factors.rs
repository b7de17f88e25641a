//! [`FactorRepository`]: a user's second factors and recovery codes, and second-factor
//! challenges by digest.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{
    CodePurpose, CredentialId, Factor, Passkey, SecretDigest, StoredCeremony, StoredCode, StoredRecoveryCode,
    Timestamp, UserId,
};
use portcullis_domain::ports::{FactorRepository, StoreError};

use crate::DieselStore;
use crate::detached::with_conn;
use crate::rows::{CeremonyRow, CodeRow, FactorRow, PasskeyRow, RecoveryCodeRow};
use crate::schema::{mfa_factors, passkeys, recovery_codes, verification_codes as codes, webauthn_challenges};
use crate::sql_types::{DbTime, DbUuid};

impl FactorRepository for DieselStore {
    async fn factors(&self, user_id: UserId) -> Result<Vec<Factor>, StoreError> {
        let rows = with_conn!(self, |c| {
            Ok(mfa_factors::table
                .filter(mfa_factors::user_id.eq(DbUuid::from(user_id)))
                .order((mfa_factors::created_at.asc(), mfa_factors::id.asc()))
                .select(FactorRow::as_select())
                .load::<FactorRow>(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(Factor::try_from).collect::<Result<_, _>>()?)
    }

    async fn recovery_codes(&self, user_id: UserId) -> Result<Vec<StoredRecoveryCode>, StoreError> {
        let rows = with_conn!(self, |c| {
            Ok(recovery_codes::table
                .filter(recovery_codes::user_id.eq(DbUuid::from(user_id)))
                .select(RecoveryCodeRow::as_select())
                .load::<RecoveryCodeRow>(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(StoredRecoveryCode::from).collect())
    }

    async fn mfa_challenge(&self, digest: SecretDigest) -> Result<Option<StoredCode>, StoreError> {
        let row = with_conn!(self, |c| {
            Ok(codes::table
                .filter(codes::digest.eq(digest.as_bytes()))
                .filter(codes::purpose.eq(CodePurpose::MfaChallenge.as_str()))
                .select(CodeRow::as_select())
                .first(c)
                .await
                .optional()?)
        })?;
        Ok(row.map(StoredCode::try_from).transpose()?)
    }

    async fn purge_pending_factors(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = DbTime(before);
        let deleted = with_conn!(self, |c| {
            Ok(diesel::delete(
                mfa_factors::table
                    .filter(mfa_factors::confirmed_at.is_null())
                    .filter(mfa_factors::created_at.lt(before)),
            )
            .execute(c)
            .await?)
        })?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError> {
        let rows = with_conn!(self, |c| {
            Ok(passkeys::table
                .inner_join(mfa_factors::table)
                .filter(passkeys::user_id.eq(DbUuid::from(user_id)))
                .order((mfa_factors::created_at.asc(), mfa_factors::id.asc()))
                .select(PasskeyRow::as_select())
                .load::<PasskeyRow>(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(Passkey::try_from).collect::<Result<_, _>>()?)
    }

    async fn passkey(&self, credential_id: CredentialId) -> Result<Option<Passkey>, StoreError> {
        let row = with_conn!(self, |c| {
            Ok(passkeys::table
                .filter(passkeys::credential_id.eq(credential_id.as_bytes()))
                .select(PasskeyRow::as_select())
                .first(c)
                .await
                .optional()?)
        })?;
        Ok(row.map(Passkey::try_from).transpose()?)
    }

    async fn take_ceremony(&self, digest: SecretDigest, now: Timestamp) -> Result<Option<StoredCeremony>, StoreError> {
        // One statement: of racing takers (on any instance) one gets the row back.
        let row = with_conn!(self, |c| {
            Ok(diesel::delete(webauthn_challenges::table.find(digest.as_bytes()))
                .returning(CeremonyRow::as_returning())
                .get_result::<CeremonyRow>(c)
                .await
                .optional()?)
        })?;
        let ceremony = row.map(StoredCeremony::try_from).transpose()?;
        Ok(ceremony.filter(|c| c.expires_at > now))
    }

    async fn purge_expired_ceremonies(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = DbTime(before);
        let deleted = with_conn!(self, |c| {
            Ok(diesel::delete(webauthn_challenges::table.filter(webauthn_challenges::expires_at.lt(before)))
                .execute(c)
                .await?)
        })?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }
}
