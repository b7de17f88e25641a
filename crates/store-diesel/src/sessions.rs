//! [`SessionRepository`]: the per-request session check (one join), a user's live sessions,
//! and the look-ups by refresh and alert token digest.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{RefreshHit, SecretDigest, Session, SessionId, Timestamp, User, UserId};
use portcullis_domain::ports::{SessionRepository, StoreError};

use crate::DieselStore;
use crate::detached::{read_tx, with_conn};
use crate::error::DbError;
use crate::rows::{SessionRow, SpentRefreshRow, UserRow};
use crate::schema::{sessions, spent_refresh_tokens, users};
use crate::sql_types::{DbTime, DbUuid};

impl SessionRepository for DieselStore {
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        let row = with_conn!(self, |c| {
            Ok(sessions::table
                .inner_join(users::table)
                .filter(sessions::id.eq(DbUuid::from(id)))
                .select((SessionRow::as_select(), UserRow::as_select()))
                .first::<(SessionRow, UserRow)>(c)
                .await
                .optional()?)
        })?;
        Ok(row.map(session_and_user).transpose()?)
    }

    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = DbTime(before);
        // Spent refresh tokens go with their session (ON DELETE CASCADE).
        let deleted = with_conn!(self, |c| {
            Ok(diesel::delete(
                sessions::table.filter(sessions::expires_at.lt(before).or(sessions::revoked_at.lt(before))),
            )
            .execute(c)
            .await?)
        })?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }

    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let user_id = DbUuid::from(user_id);
        let now = DbTime(now);
        let rows = with_conn!(self, |c| {
            Ok(sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .order((sessions::created_at.desc(), sessions::id.desc()))
                .select(SessionRow::as_select())
                .load::<SessionRow>(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(Session::try_from).collect::<Result<Vec<_>, _>>()?)
    }

    async fn all_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        let user_id = DbUuid::from(user_id);
        let rows = with_conn!(self, |c| {
            Ok(sessions::table
                .filter(sessions::user_id.eq(user_id))
                .order((sessions::created_at.desc(), sessions::id.desc()))
                .select(SessionRow::as_select())
                .load::<SessionRow>(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(Session::try_from).collect::<Result<Vec<_>, _>>()?)
    }

    async fn session_by_refresh(
        &self,
        digest: SecretDigest,
    ) -> Result<Option<(Session, User, RefreshHit)>, StoreError> {
        let digest = digest.as_bytes().to_vec();
        // The current token first (the common case), then the spent ones; both by index, in
        // one snapshot so a rotation committing in between cannot hide the digest from both.
        let found = read_tx!(self, |c| {
            let current: Option<(SessionRow, UserRow)> = sessions::table
                .inner_join(users::table)
                .filter(sessions::refresh_token_hash.eq(&digest))
                .select((SessionRow::as_select(), UserRow::as_select()))
                .first(c)
                .await
                .optional()?;
            if let Some((session, user)) = current {
                return Ok(Some((session, user, None)));
            }
            let spent: Option<(SpentRefreshRow, SessionRow, UserRow)> = spent_refresh_tokens::table
                .inner_join(sessions::table.inner_join(users::table))
                .filter(spent_refresh_tokens::digest.eq(&digest))
                .select((SpentRefreshRow::as_select(), SessionRow::as_select(), UserRow::as_select()))
                .first(c)
                .await
                .optional()?;
            Ok(spent.map(|(spent, session, user)| (session, user, Some(spent))))
        })?;
        let Some((session, user, spent)) = found else { return Ok(None) };
        let (session, user) = session_and_user((session, user))?;
        Ok(Some((session, user, spent.map_or(RefreshHit::Current, RefreshHit::from))))
    }

    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError> {
        let digest = digest.as_bytes().to_vec();
        let row = with_conn!(self, |c| {
            Ok(sessions::table
                .inner_join(users::table)
                .filter(sessions::alert_token_hash.eq(digest))
                .select((SessionRow::as_select(), UserRow::as_select()))
                .first::<(SessionRow, UserRow)>(c)
                .await
                .optional()?)
        })?;
        Ok(row.map(session_and_user).transpose()?)
    }
}

/// A joined session row and its owner's row, as domain values.
fn session_and_user((session, user): (SessionRow, UserRow)) -> Result<(Session, User), DbError> {
    Ok((Session::try_from(session)?, User::try_from(user)?))
}
