//! A user's in-app notifications: the page query and the read marks.

use portcullis_domain::model::{Notification, NotificationId, NotificationPage, Timestamp, UserId};
use portcullis_domain::ports::{NotificationRepository, StoreError};

use super::InMemoryStore;

impl NotificationRepository for InMemoryStore {
    async fn notifications_page(
        &self,
        user_id: UserId,
        unread_only: bool,
        limit: u32,
        offset: u64,
    ) -> Result<NotificationPage, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let own: Vec<&Notification> = state.notifications.iter().filter(|n| n.user_id == user_id).collect();
        let unread_count = own.iter().filter(|n| n.read_at.is_none()).count() as u64;
        let mut selected: Vec<&Notification> =
            own.into_iter().filter(|n| !unread_only || n.read_at.is_none()).collect();
        // The SQL stores order UUIDs as lower-case text, which is their byte order too.
        selected.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total_count = selected.len() as u64;
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let items = selected.into_iter().skip(skip).take(take).cloned().collect();
        Ok(NotificationPage { items, total_count, unread_count })
    }

    async fn mark_notification_read(
        &self,
        user_id: UserId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let Some(n) = state.notifications.iter_mut().find(|n| n.id == id && n.user_id == user_id) else {
            return Ok(false);
        };
        // The first read time stands.
        n.read_at.get_or_insert(at);
        Ok(true)
    }

    async fn mark_all_notifications_read(&self, user_id: UserId, at: Timestamp) -> Result<u64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let mut changed = 0;
        for n in state.notifications.iter_mut().filter(|n| n.user_id == user_id && n.read_at.is_none()) {
            n.read_at = Some(at);
            changed += 1;
        }
        Ok(changed)
    }
}
