//! The caller's own login history.

use crate::error::InfraError;
use crate::model::{AuditEntry, HistoryFilter, Page, UserId};
use crate::ports::{AuditRepository, Ports};
use crate::service::Portcullis;

/// Largest page.
pub const MAX_HISTORY_LIMIT: u32 = 100;

/// Which page of a login history: successes, failures or both, `limit` entries from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Successes, failures or both.
    pub filter: HistoryFilter,
    /// Page size; clamped to `1..=100`.
    pub limit: u32,
    /// Entries to skip.
    pub offset: u64,
}

impl Default for HistoryQuery {
    /// Both kinds, the first 20 (the HTTP API's default page).
    fn default() -> Self {
        Self { filter: HistoryFilter::All, limit: 20, offset: 0 }
    }
}

impl<P: Ports> Portcullis<P> {
    /// Login successes and/or failures of `user_id`, newest first, ties by id descending.
    ///
    /// ```
    /// use portcullis_domain::{HistoryQuery, Policy};
    /// use portcullis_domain::model::UserId;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(Policy::default());
    /// let page = service.login_history(UserId::new_v7(), HistoryQuery::default()).await.unwrap();
    /// assert_eq!((page.items.len(), page.total_count), (0, 0));
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails; HTTP answers `HISTORY_FETCH_FAILED`.
    pub async fn login_history(&self, user_id: UserId, query: HistoryQuery) -> Result<Page<AuditEntry>, InfraError> {
        let limit = query.limit.clamp(1, MAX_HISTORY_LIMIT);
        Ok(self.store.audit_page(user_id, query.filter.actions().to_vec(), limit, query.offset).await?)
    }
}
