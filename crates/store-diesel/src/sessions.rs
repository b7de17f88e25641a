//! [`SessionRepository`]: the per-request session check, one join.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Session, SessionId, User};
use portcullis_domain::ports::{SessionRepository, StoreError};

use crate::DieselStore;
use crate::detached::with_conn;
use crate::rows::{SessionRow, UserRow};
use crate::schema::{sessions, users};
use crate::sql_types::DbUuid;

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
}
