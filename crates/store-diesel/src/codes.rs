//! [`CodeRepository`]: the active one-time code and the atomic try counter.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{CodeId, CodePurpose, StoredCode, UserId};
use portcullis_domain::ports::{CodeRepository, StoreError};

use crate::DieselStore;
use crate::detached::with_conn;
use crate::error::DbError;
use crate::rows::{CodeRow, count_to_db};
use crate::schema::verification_codes as codes;
use crate::sql_types::DbUuid;

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
}
