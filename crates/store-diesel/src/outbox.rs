//! [`MailOutbox`]: the durable queue with leases, so several workers never send one message
//! twice at once.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{MailId, OutgoingMail, Timestamp};
use portcullis_domain::ports::{MailOutbox, StoreError};

use crate::DieselStore;
use crate::cached_sql::{Arg, CachedSql};
use crate::detached::{dispatch, with_conn, write_tx};
use crate::rows::MailRow;
use crate::schema::mail_outbox as outbox;
use crate::sql_types::{DbTime, DbUuid};

/// A sent message's delete on PostgreSQL, committed without waiting for the WAL flush (the
/// `set_config` is local to the statement's own transaction, and the commit reads it).
/// Should the database crash in the fraction of a second before the flush, the row comes
/// back and the message is sent once more: the outbox already promises at least once (a
/// crash between the send and the delete does the same), so nothing is weakened, and every
/// sent mail (an alert on each login) stops paying a synchronous flush. A data-modifying
/// `WITH` runs whether or not the query reads it.
const DELETE_SENT_WITHOUT_WAITING_FOR_THE_FLUSH: &str = "WITH sent AS (DELETE FROM mail_outbox WHERE id = ? RETURNING 1) \
     SELECT set_config('synchronous_commit', 'off', true)";

impl MailOutbox for DieselStore {
    async fn claim_mail(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutgoingMail>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = DbTime(now.plus(lease));
        let now = DbTime(now);
        // Select and lease in one write transaction, so two workers cannot both see a message
        // as free: SQLite's `BEGIN IMMEDIATE` admits one claimer at a time; on PostgreSQL the
        // selected rows stay locked until the lease is committed, and other instances' workers
        // skip them (`FOR UPDATE SKIP LOCKED`) rather than wait and take them too.
        let rows: Vec<MailRow> = write_tx!(self, |c, db| {
            let due: Vec<MailRow> = db::skip_locked!(
                outbox::table
                    .filter(outbox::next_attempt_at.le(now))
                    .filter(outbox::failed_at.is_null())
                    .filter(outbox::locked_until.is_null().or(outbox::locked_until.le(now)))
                    .order((outbox::next_attempt_at.asc(), outbox::created_at.asc(), outbox::id.asc()))
                    .limit(i64::from(limit))
                    .select(MailRow::as_select())
            )
            .load(c)
            .await?;
            if !due.is_empty() {
                let ids: Vec<DbUuid> = due.iter().map(|m| m.id).collect();
                diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
                    .set(outbox::locked_until.eq(Some(until)))
                    .execute(c)
                    .await?;
            }
            Ok(due)
        })?;
        Ok(rows.into_iter().map(OutgoingMail::try_from).collect::<Result<Vec<_>, _>>()?)
    }

    async fn mail_sent(&self, id: MailId) -> Result<(), StoreError> {
        // Deleted, not flagged: the body may hold a one-time code.
        let id = DbUuid::from(id);
        dispatch!(self, |c, _db|
            sqlite => {
                diesel::delete(outbox::table.find(id)).execute(c).await?;
                Ok(())
            },
            postgres => {
                CachedSql::new(DELETE_SENT_WITHOUT_WAITING_FOR_THE_FLUSH, vec![Arg::Uuid(id)]).execute(c).await?;
                Ok(())
            }
        )?;
        Ok(())
    }

    async fn mail_failed(&self, id: MailId, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            diesel::update(outbox::table.find(DbUuid::from(id)))
                .set((
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::next_attempt_at.eq(DbTime(next_attempt_at)),
                    outbox::locked_until.eq(None::<DbTime>),
                ))
                .execute(c)
                .await?;
            Ok(())
        })?;
        Ok(())
    }

    async fn mail_abandoned(&self, id: MailId, at: Timestamp) -> Result<(), StoreError> {
        // Kept, not deleted, so operators can see what never went out; guarded so the first
        // give-up time stands.
        with_conn!(self, |c| {
            diesel::update(outbox::table.find(DbUuid::from(id)).filter(outbox::failed_at.is_null()))
                .set((
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::failed_at.eq(Some(DbTime(at))),
                    outbox::locked_until.eq(None::<DbTime>),
                ))
                .execute(c)
                .await?;
            Ok(())
        })?;
        Ok(())
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        let n: i64 =
            with_conn!(self, |c| Ok(outbox::table.filter(outbox::failed_at.is_null()).count().get_result(c).await?))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn outbox_failed_count(&self) -> Result<u64, StoreError> {
        let n: i64 = with_conn!(self, |c| {
            Ok(outbox::table.filter(outbox::failed_at.is_not_null()).count().get_result(c).await?)
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
