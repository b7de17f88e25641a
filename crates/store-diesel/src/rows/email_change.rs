//! Address change rows.

use diesel::prelude::*;
use portcullis_domain::model::{Email, EmailChange, SecretDigest};

use crate::error::DbError;
use crate::schema::email_changes;
use crate::sql_types::{DbTime, DbUuid};

/// An `email_changes` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = email_changes, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct EmailChangeRow {
    id: DbUuid,
    user_id: DbUuid,
    old_email: String,
    new_email: String,
    created_at: DbTime,
    confirmed_at: Option<DbTime>,
    revert_token_hash: Option<Vec<u8>>,
    revert_expires_at: Option<DbTime>,
    reverted_at: Option<DbTime>,
}

impl From<&EmailChange> for EmailChangeRow {
    fn from(c: &EmailChange) -> Self {
        Self {
            id: c.id.into(),
            user_id: c.user_id.into(),
            old_email: c.old_email.as_str().to_owned(),
            new_email: c.new_email.as_str().to_owned(),
            created_at: DbTime(c.created_at),
            confirmed_at: c.confirmed_at.map(DbTime),
            revert_token_hash: c.revert_digest.as_ref().map(|d| d.as_bytes().to_vec()),
            revert_expires_at: c.revert_expires_at.map(DbTime),
            reverted_at: c.reverted_at.map(DbTime),
        }
    }
}

impl TryFrom<EmailChangeRow> for EmailChange {
    type Error = DbError;
    fn try_from(r: EmailChangeRow) -> Result<Self, DbError> {
        let address = |raw: &str, what: &str| {
            Email::parse(raw).map_err(|e| DbError::corrupt(format!("email change {what}: {e}")))
        };
        Ok(EmailChange {
            id: r.id.into(),
            user_id: r.user_id.into(),
            old_email: address(&r.old_email, "old_email")?,
            new_email: address(&r.new_email, "new_email")?,
            created_at: r.created_at.into(),
            confirmed_at: r.confirmed_at.map(Into::into),
            revert_digest: r.revert_token_hash.map(SecretDigest::new),
            revert_expires_at: r.revert_expires_at.map(Into::into),
            reverted_at: r.reverted_at.map(Into::into),
        })
    }
}
