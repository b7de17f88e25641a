//! [`SessionRepository`]: the per-request session check (one join) and a user's live sessions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Session, SessionId, Timestamp, User, UserId};
use portcullis_domain::ports::{SessionRepository, StoreError};

use crate::DieselStore;
use crate::detached::with_conn;
use crate::rows::{SessionRow, UserRow};
use crate::schema::{sessions, users};
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
        match row {
            Some((session, user)) => Ok(Some((Session::try_from(session)?, User::try_from(user)?))),
            None => Ok(None),
        }
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
}
