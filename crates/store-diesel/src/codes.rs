//! [`CodeRepository`]: the active one-time code, the atomic try counter, and the reads of
//! address changes.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{CodeId, CodePurpose, Email, EmailChange, SecretDigest, StoredCode, Timestamp, UserId};
use portcullis_domain::ports::{CodeRepository, StoreError};

use crate::DieselStore;
use crate::detached::with_conn;
use crate::error::DbError;
use crate::rows::{CodeRow, EmailChangeRow, count_to_db};
use crate::schema::{email_changes, verification_codes as codes};
use crate::sql_types::{DbTime, DbUuid};

impl CodeRepository for DieselStore {
    async fn active_code(&self, user_id: UserId, purpose: CodePurpose) -> Result<Option<StoredCode>, StoreError> {
        let row = with_conn!(self, |c| {
            Ok(codes::table
                .filter(codes::user_id.eq(DbUuid::from(user_id)))
                .filter(codes::purpose.eq(purpose.as_str()))
                .filter(codes::consumed_at.is_null())
                // UUIDv7 sorts by creation too (as text and as uuid), so the id breaks
                // same-millisecond ties.
                .order((codes::created_at.desc(), codes::id.desc()))
                .select(CodeRow::as_select())
                .first(c)
                .await
                .optional()?)
        })?;
        Ok(row.map(StoredCode::try_from).transpose()?)
    }

    async fn count_code_attempt(&self, id: CodeId, max_attempts: u32) -> Result<Option<u32>, StoreError> {
        // One guarded statement: the database serialises it, so of many racing callers at most
        // `max_attempts` see a row come back.
        let attempts: Option<i32> = with_conn!(self, |c| {
            Ok(diesel::update(
                codes::table
                    .find(DbUuid::from(id))
                    .filter(codes::consumed_at.is_null())
                    .filter(codes::attempts.lt(count_to_db(max_attempts))),
            )
            .set(codes::attempts.eq(codes::attempts + 1))
            .returning(codes::attempts)
            .get_result(c)
            .await
            .optional()?)
        })?;
        Ok(attempts
            .map(|n| u32::try_from(n).map_err(|_| DbError::corrupt(format!("code attempts {n}"))))
            .transpose()?)
    }

    async fn email_changes(&self, user_id: UserId) -> Result<Vec<EmailChange>, StoreError> {
        let rows = with_conn!(self, |c| {
            Ok(email_changes::table
                .filter(email_changes::user_id.eq(DbUuid::from(user_id)))
                // As for codes: the UUIDv7 id breaks same-millisecond ties.
                .order((email_changes::created_at.desc(), email_changes::id.desc()))
                .select(EmailChangeRow::as_select())
                .load(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(EmailChange::try_from).collect::<Result<_, _>>()?)
    }

    async fn email_change_by_revert(&self, digest: SecretDigest) -> Result<Option<EmailChange>, StoreError> {
        let digest = digest.as_bytes().to_vec();
        let row = with_conn!(self, |c| {
            Ok(email_changes::table
                .filter(email_changes::revert_token_hash.eq(digest))
                .select(EmailChangeRow::as_select())
                .first(c)
                .await
                .optional()?)
        })?;
        Ok(row.map(EmailChange::try_from).transpose()?)
    }

    async fn email_reserved_for_revert(&self, email: &Email, now: Timestamp) -> Result<bool, StoreError> {
        let email = email.as_str().to_owned();
        // The filter repeats the predicate of the partial index `email_changes_reserved`,
        // so both databases use it.
        Ok(with_conn!(self, |c| {
            Ok(diesel::select(diesel::dsl::exists(
                email_changes::table
                    .filter(email_changes::old_email.eq(email))
                    .filter(email_changes::confirmed_at.is_not_null())
                    .filter(email_changes::reverted_at.is_null())
                    .filter(email_changes::revert_expires_at.gt(DbTime(now))),
            ))
            .get_result::<bool>(c)
            .await?)
        })?)
    }
}
