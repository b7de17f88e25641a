//! [`UserRepository`]: account lookups by normalised email and by id, and the administrators'
//! search.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Email, Page, Timestamp, User, UserId, UserQuery, UserStatusFilter};
use portcullis_domain::ports::{StoreError, UserRepository};

use crate::DieselStore;
use crate::detached::{read_tx, with_conn};
use crate::rows::UserRow;
use crate::schema::users;
use crate::sql_functions::lower;
use crate::sql_types::{DbTime, DbUuid};

/// The `LIKE` escape character of [`contains_pattern`].
const LIKE_ESCAPE: char = '\\';

/// A `LIKE` pattern matching `text` anywhere, lower-cased, with `%`, `_` and the escape
/// character itself taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

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

    async fn deleted_before(&self, before: Timestamp, limit: u32) -> Result<Vec<User>, StoreError> {
        let before = DbTime(before);
        let rows = with_conn!(self, |c| {
            Ok(users::table
                .filter(users::deleted_at.lt(before))
                .order((users::deleted_at.asc(), users::id.asc()))
                .limit(i64::from(limit))
                .select(UserRow::as_select())
                .load::<UserRow>(c)
                .await?)
        })?;
        Ok(rows.into_iter().map(User::try_from).collect::<Result<Vec<_>, _>>()?)
    }

    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        let pattern = query.text.as_deref().map(contains_pattern);
        let status = query.status;
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let limit = i64::from(query.limit);
        // The filters are optional, so the query is boxed and built by one closure for the
        // page and for the total; one read transaction, so the total matches the page. The
        // email is stored lower-case; the name is lower-cased in SQL.
        let (rows, total) = read_tx!(self, |c| {
            let matching = || {
                let mut q = users::table.into_boxed();
                if let Some(pattern) = &pattern {
                    q = q.filter(
                        users::email
                            .like(pattern.clone())
                            .escape(LIKE_ESCAPE)
                            .or(lower(users::name).like(pattern.clone()).escape(LIKE_ESCAPE)),
                    );
                }
                match status {
                    None => q,
                    Some(UserStatusFilter::Deleted) => q.filter(users::deleted_at.is_not_null()),
                    Some(UserStatusFilter::Status(s)) => {
                        q.filter(users::deleted_at.is_null()).filter(users::status.eq(s.as_str()))
                    }
                }
            };
            let rows: Vec<UserRow> = matching()
                .order((users::created_at.asc(), users::id.asc()))
                .limit(limit)
                .offset(offset)
                .select(UserRow::as_select())
                .load(c)
                .await?;
            let total: i64 = matching().count().get_result(c).await?;
            Ok((rows, total))
        })?;
        let items = rows.into_iter().map(User::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total_count: u64::try_from(total).unwrap_or(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_escapes_like_wildcards_and_lowercases() {
        assert_eq!(contains_pattern("Ab"), "%ab%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
