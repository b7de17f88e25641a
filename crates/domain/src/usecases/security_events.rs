//! The caller's own audit log, every action or one.

use crate::model::{AuditAction, AuditEntry, Page, UserId};
use crate::ports::{AuditRepository, Ports, StoreError};
use crate::service::Portcullis;
use crate::usecases::login_history::MAX_HISTORY_LIMIT;

impl<P: Ports> Portcullis<P> {
    /// Audit entries of `user_id` (only `action` ones when given), newest first, ties by id
    /// descending. `limit` is clamped to `1..=100`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn security_events(
        &self,
        user_id: UserId,
        action: Option<AuditAction>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let limit = limit.clamp(1, MAX_HISTORY_LIMIT);
        let actions = action.map_or_else(|| AuditAction::ALL.to_vec(), |a| vec![a]);
        self.store.audit_page(user_id, actions, limit, offset).await
    }
}
