//! The caller's own login history.

use crate::model::{AuditEntry, HistoryFilter, Page, UserId};
use crate::ports::{AuditRepository, Ports, StoreError};
use crate::service::Portcullis;

/// Largest page.
pub const MAX_HISTORY_LIMIT: u32 = 100;

impl<P: Ports> Portcullis<P> {
    /// Login successes and/or failures of `user_id`, newest first, ties by id descending.
    /// `limit` is clamped to `1..=100`.
    ///
    /// # Errors
    /// The store's error; HTTP answers `HISTORY_FETCH_FAILED`.
    pub async fn login_history(
        &self,
        user_id: UserId,
        filter: HistoryFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let limit = limit.clamp(1, MAX_HISTORY_LIMIT);
        self.store.audit_page(user_id, filter.actions().to_vec(), limit, offset).await
    }
}
