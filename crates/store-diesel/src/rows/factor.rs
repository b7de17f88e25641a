//! Second-factor rows: `mfa_factors` and `recovery_codes`.

use diesel::prelude::*;
use portcullis_domain::model::{
    Factor, FactorKind, FactorName, SealedSecret, SecretDigest, StoredRecoveryCode, Timestamp, TotpStep, UserId,
};

use crate::error::DbError;
use crate::schema::{mfa_factors, recovery_codes};
use crate::sql_types::{DbTime, DbUuid};

/// A TOTP step as a `BIGINT` (steps of 30 s fit with room to spare; a larger one is refused
/// rather than wrapped).
pub(crate) fn step_to_db(step: TotpStep) -> Result<i64, DbError> {
    i64::try_from(step.0).map_err(|_| DbError::corrupt(format!("TOTP step {} out of range", step.0)))
}

/// A `mfa_factors` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_factors, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct FactorRow {
    id: DbUuid,
    user_id: DbUuid,
    kind: String,
    name: String,
    secret: Vec<u8>,
    created_at: DbTime,
    confirmed_at: Option<DbTime>,
    last_used_step: Option<i64>,
    last_used_at: Option<DbTime>,
}

impl TryFrom<&Factor> for FactorRow {
    type Error = DbError;
    fn try_from(f: &Factor) -> Result<Self, DbError> {
        Ok(Self {
            id: f.id.into(),
            user_id: f.user_id.into(),
            kind: f.kind.as_str().to_owned(),
            name: f.name.as_str().to_owned(),
            secret: f.secret.0.clone(),
            created_at: DbTime(f.created_at),
            confirmed_at: f.confirmed_at.map(DbTime),
            last_used_step: f.last_used_step.map(step_to_db).transpose()?,
            last_used_at: f.last_used_at.map(DbTime),
        })
    }
}

impl TryFrom<FactorRow> for Factor {
    type Error = DbError;
    fn try_from(r: FactorRow) -> Result<Self, DbError> {
        Ok(Factor {
            id: r.id.into(),
            user_id: r.user_id.into(),
            kind: FactorKind::parse(&r.kind).ok_or_else(|| DbError::corrupt(format!("factor kind {:?}", r.kind)))?,
            name: FactorName::parse(&r.name).map_err(|e| DbError::corrupt(format!("factor name: {e}")))?,
            secret: SealedSecret(r.secret),
            created_at: r.created_at.into(),
            confirmed_at: r.confirmed_at.map(Into::into),
            last_used_step: r
                .last_used_step
                .map(|step| u64::try_from(step).map(TotpStep))
                .transpose()
                .map_err(|_| DbError::corrupt("negative TOTP step".to_owned()))?,
            last_used_at: r.last_used_at.map(Into::into),
        })
    }
}

/// A `recovery_codes` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = recovery_codes, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct RecoveryCodeRow {
    user_id: DbUuid,
    digest: Vec<u8>,
    created_at: DbTime,
    used_at: Option<DbTime>,
}

impl RecoveryCodeRow {
    /// A fresh, unused code of `user_id`.
    pub(crate) fn unused(user_id: UserId, digest: &SecretDigest, at: Timestamp) -> Self {
        Self { user_id: user_id.into(), digest: digest.as_bytes().to_vec(), created_at: DbTime(at), used_at: None }
    }
}

impl From<RecoveryCodeRow> for StoredRecoveryCode {
    fn from(r: RecoveryCodeRow) -> Self {
        StoredRecoveryCode { digest: SecretDigest::new(r.digest), used_at: r.used_at.map(Into::into) }
    }
}
