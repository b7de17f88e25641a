//! Passkey rows: `passkeys` and `webauthn_challenges`.

use diesel::prelude::*;
use portcullis_domain::model::{
    CeremonyPurpose, CeremonyState, CredentialId, Passkey, PasskeyCredential, SecretDigest, StoredCeremony,
};

use crate::error::DbError;
use crate::schema::{passkeys, webauthn_challenges};
use crate::sql_types::{DbTime, DbUuid};

/// A `passkeys` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct PasskeyRow {
    factor_id: DbUuid,
    user_id: DbUuid,
    credential_id: Vec<u8>,
    credential: String,
    sign_count: i64,
    user_verified: bool,
    backed_up: bool,
    disabled_at: Option<DbTime>,
}

impl From<&Passkey> for PasskeyRow {
    fn from(p: &Passkey) -> Self {
        Self {
            factor_id: p.factor_id.into(),
            user_id: p.user_id.into(),
            credential_id: p.credential_id.as_bytes().to_vec(),
            credential: p.credential.0.clone(),
            sign_count: i64::from(p.sign_count),
            user_verified: p.user_verified,
            backed_up: p.backed_up,
            disabled_at: p.disabled_at.map(DbTime),
        }
    }
}

impl TryFrom<PasskeyRow> for Passkey {
    type Error = DbError;
    fn try_from(r: PasskeyRow) -> Result<Self, DbError> {
        Ok(Passkey {
            factor_id: r.factor_id.into(),
            user_id: r.user_id.into(),
            credential_id: CredentialId::new(r.credential_id).map_err(|e| DbError::corrupt(format!("passkey: {e}")))?,
            credential: PasskeyCredential(r.credential),
            sign_count: u32::try_from(r.sign_count)
                .map_err(|_| DbError::corrupt(format!("passkey counter {}", r.sign_count)))?,
            user_verified: r.user_verified,
            backed_up: r.backed_up,
            disabled_at: r.disabled_at.map(Into::into),
        })
    }
}

/// A `webauthn_challenges` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_challenges, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct CeremonyRow {
    digest: Vec<u8>,
    purpose: String,
    user_id: Option<DbUuid>,
    binding: Option<Vec<u8>>,
    state: String,
    created_at: DbTime,
    expires_at: DbTime,
}

impl From<&StoredCeremony> for CeremonyRow {
    fn from(c: &StoredCeremony) -> Self {
        Self {
            digest: c.digest.as_bytes().to_vec(),
            purpose: c.purpose.as_str().to_owned(),
            user_id: c.user_id.map(Into::into),
            binding: c.binding.as_ref().map(|b| b.as_bytes().to_vec()),
            state: c.state.0.clone(),
            created_at: DbTime(c.created_at),
            expires_at: DbTime(c.expires_at),
        }
    }
}

impl TryFrom<CeremonyRow> for StoredCeremony {
    type Error = DbError;
    fn try_from(r: CeremonyRow) -> Result<Self, DbError> {
        Ok(StoredCeremony {
            digest: SecretDigest::new(r.digest),
            purpose: CeremonyPurpose::parse(&r.purpose)
                .ok_or_else(|| DbError::corrupt(format!("ceremony purpose {:?}", r.purpose)))?,
            user_id: r.user_id.map(Into::into),
            binding: r.binding.map(SecretDigest::new),
            state: CeremonyState(r.state),
            created_at: r.created_at.into(),
            expires_at: r.expires_at.into(),
        })
    }
}
