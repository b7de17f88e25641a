//! [`UserRepository`]: account lookups by normalised email and by id.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Email, User, UserId};
use portcullis_domain::ports::{StoreError, UserRepository};

use crate::DieselStore;
use crate::detached::with_conn;
use crate::rows::UserRow;
use crate::schema::users;
use crate::sql_types::DbUuid;

impl UserRepository for DieselStore {
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let email = email.as_str().to_owned();
        let row = with_conn!(self, |c| {
            Ok(users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(c).await.optional()?)
        })?;
        Ok(row.map(User::try_from).transpose()?)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = with_conn!(self, |c| {
            Ok(users::table.find(DbUuid::from(id)).select(UserRow::as_select()).first(c).await.optional()?)
        })?;
        Ok(row.map(User::try_from).transpose()?)
    }
}
