//! [`AuditRepository`]: one page of a user's audit entries and the matching total.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{AuditAction, AuditEntry, Page, UserId};
use portcullis_domain::ports::{AuditRepository, StoreError};

use crate::DieselStore;
use crate::detached::read_tx;
use crate::rows::AuditRow;
use crate::schema::audit_log;
use crate::sql_types::DbUuid;

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
        let items = rows.into_iter().map(AuditEntry::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total_count: u64::try_from(total).unwrap_or(0) })
    }
}
