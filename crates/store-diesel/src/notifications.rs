//! [`NotificationRepository`]: a page of a user's notifications with its counts, and the read
//! marks, every statement scoped to the user so another user's id matches nothing.

use diesel::dsl::not;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Notification, NotificationId, NotificationPage, Timestamp, UserId};
use portcullis_domain::ports::{NotificationRepository, StoreError};

use crate::DieselStore;
use crate::detached::{read_tx, with_conn, write_tx};
use crate::rows::NotificationRow;
use crate::schema::notifications;
use crate::sql_types::{DbTime, DbUuid};

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl NotificationRepository for DieselStore {
    async fn notifications_page(
        &self,
        user_id: UserId,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<NotificationPage, StoreError> {
        let user_id = DbUuid::from(user_id);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        // One statement shape for both filters (`read_at IS NULL OR NOT $unread_only`), so the
        // body stays a single query; the (user_id, read_at) and (user_id, created_at) indexes
        // serve it. One read transaction, so the counts match the page.
        let (rows, total, unread) = read_tx!(self, |c| {
            let selected = notifications::read_at.is_null().or(not(unread_only.into_sql::<Bool>()));
            let rows: Vec<NotificationRow> = notifications::table
                .filter(notifications::user_id.eq(user_id))
                .filter(selected)
                .order((notifications::created_at.desc(), notifications::id.desc()))
                .limit(i64::from(limit))
                .offset(offset)
                .select(NotificationRow::as_select())
                .load(c)
                .await?;
            let total: i64 = notifications::table
                .filter(notifications::user_id.eq(user_id))
                .filter(selected)
                .count()
                .get_result(c)
                .await?;
            let unread: i64 = notifications::table
                .filter(notifications::user_id.eq(user_id))
                .filter(notifications::read_at.is_null())
                .count()
                .get_result(c)
                .await?;
            Ok((rows, total, unread))
        })?;
        let items = rows.into_iter().map(Notification::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(NotificationPage { items, total_count: count(total), unread_count: count(unread) })
    }

    async fn mark_notification_read(
        &self,
        user_id: UserId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (user_id, id, at) = (DbUuid::from(user_id), DbUuid::from(id), DbTime(at));
        let found = write_tx!(self, |c| {
            // Guarded, so the first read time stands however many marks race; a concurrent
            // marker on PostgreSQL waits for the row lock, re-checks `read_at` and updates 0 rows.
            let mine = notifications::table.find(id).filter(notifications::user_id.eq(user_id));
            let flipped = diesel::update(mine.filter(notifications::read_at.is_null()))
                .set(notifications::read_at.eq(Some(at)))
                .execute(c)
                .await?;
            if flipped > 0 {
                return Ok(true);
            }
            // Already read, or not the caller's (or no such id): only the first is found.
            let existing: i64 = mine.count().get_result(c).await?;
            Ok(existing > 0)
        })?;
        Ok(found)
    }

    async fn mark_all_notifications_read(&self, user_id: UserId, at: Timestamp) -> Result<u64, StoreError> {
        let (user_id, at) = (DbUuid::from(user_id), DbTime(at));
        let changed = with_conn!(self, |c| {
            let n = diesel::update(
                notifications::table
                    .filter(notifications::user_id.eq(user_id))
                    .filter(notifications::read_at.is_null()),
            )
            .set(notifications::read_at.eq(Some(at)))
            .execute(c)
            .await?;
            Ok(n)
        })?;
        Ok(changed as u64)
    }
}
