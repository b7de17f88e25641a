//! The caller's own audit log, every action or one.

use crate::error::InfraError;
use crate::model::{AuditAction, AuditEntry, Page, UserId};
use crate::ports::{AuditRepository, Ports};
use crate::service::Portcullis;
use crate::usecases::login_history::MAX_HISTORY_LIMIT;

/// Which page of a user's security events: one action or all, `limit` entries from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityEventQuery {
    /// Only this action; every action when `None`.
    pub action: Option<AuditAction>,
    /// Page size; clamped to `1..=100`.
    pub limit: u32,
    /// Entries to skip.
    pub offset: u64,
}

impl Default for SecurityEventQuery {
    /// Every action, the first 20.
    fn default() -> Self {
        Self { action: None, limit: 20, offset: 0 }
    }
}

impl<P: Ports> Portcullis<P> {
    /// Audit entries of `user_id`, newest first, ties by id descending.
    ///
    /// ```
    /// use portcullis_domain::{Policy, SecurityEventQuery};
    /// use portcullis_domain::model::{AuditAction, UserId};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (service, _) = portcullis_testing::test_service(Policy::default());
    /// let query = SecurityEventQuery { action: Some(AuditAction::Logout), ..SecurityEventQuery::default() };
    /// assert_eq!(service.security_events(UserId::new_v7(), query).await.unwrap().total_count, 0);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn security_events(
        &self,
        user_id: UserId,
        query: SecurityEventQuery,
    ) -> Result<Page<AuditEntry>, InfraError> {
        let limit = query.limit.clamp(1, MAX_HISTORY_LIMIT);
        let actions = query.action.map_or_else(|| AuditAction::ALL.to_vec(), |a| vec![a]);
        Ok(self.store.audit_page(user_id, actions, limit, query.offset).await?)
    }
}
