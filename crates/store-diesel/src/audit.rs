//! [`AuditRepository`]: one page of a user's audit entries, or of the whole log searched by
//! administrators, and the matching total.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{AuditAction, AuditEntry, AuditQuery, Page, UserId};
use portcullis_domain::ports::{AuditRepository, StoreError};

use crate::DieselStore;
use crate::detached::read_tx;
use crate::error::DbError;
use crate::rows::AuditRow;
use crate::schema::audit_log;
use crate::sql_types::{DbTime, DbUuid};

impl AuditRepository for DieselStore {
    async fn audit_page(
        &self,
        user_id: UserId,
        actions: Vec<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        if actions.is_empty() {
            return Ok(Page { items: Vec::new(), total_count: 0 });
        }
        let user_id = DbUuid::from(user_id);
        let actions: Vec<&'static str> = actions.into_iter().map(AuditAction::as_str).collect();
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        // Same filter twice; both served by the (user_id, created_at DESC, id DESC) index, and
        // read in one transaction so the total matches the page.
        let (rows, total) = read_tx!(self, |c| {
            let rows: Vec<AuditRow> = audit_log::table
                .filter(audit_log::user_id.eq(user_id))
                .filter(audit_log::action.eq_any(&actions))
                .order((audit_log::created_at.desc(), audit_log::id.desc()))
                .limit(i64::from(limit))
                .offset(offset)
                .select(AuditRow::as_select())
                .load(c)
                .await?;
            let total: i64 = audit_log::table
                .filter(audit_log::user_id.eq(user_id))
                .filter(audit_log::action.eq_any(&actions))
                .count()
                .get_result(c)
                .await?;
            Ok((rows, total))
        })?;
        Ok(audit_page(rows, total)?)
    }

    async fn search_audit(&self, query: AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let user_id = query.user_id.map(DbUuid::from);
        let action = query.action.map(AuditAction::as_str);
        let (from, to) = (query.from.map(DbTime), query.to.map(DbTime));
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let limit = i64::from(query.limit);
        // Every filter is optional, so the query is boxed and built by one closure for the
        // page and for the total, read in one transaction so the two agree. With a user, the
        // (user_id, created_at DESC, id DESC) index serves it.
        let (rows, total) = read_tx!(self, |c| {
            let matching = || {
                let mut q = audit_log::table.into_boxed();
                if let Some(user_id) = user_id {
                    q = q.filter(audit_log::user_id.eq(user_id));
                }
                if let Some(action) = action {
                    q = q.filter(audit_log::action.eq(action));
                }
                if let Some(from) = from {
                    q = q.filter(audit_log::created_at.ge(from));
                }
                if let Some(to) = to {
                    q = q.filter(audit_log::created_at.lt(to));
                }
                q
            };
            let rows: Vec<AuditRow> = matching()
                .order((audit_log::created_at.desc(), audit_log::id.desc()))
                .limit(limit)
                .offset(offset)
                .select(AuditRow::as_select())
                .load(c)
                .await?;
            let total: i64 = matching().count().get_result(c).await?;
            Ok((rows, total))
        })?;
        Ok(audit_page(rows, total)?)
    }
}

/// Rows and their total as a domain page.
fn audit_page(rows: Vec<AuditRow>, total: i64) -> Result<Page<AuditEntry>, DbError> {
    let items = rows.into_iter().map(AuditEntry::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, total_count: u64::try_from(total).unwrap_or(0) })
}
