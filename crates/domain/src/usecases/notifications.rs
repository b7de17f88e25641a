//! The caller's own in-app notifications: list them, mark one or all read.

use crate::error::InfraError;
use crate::model::{NotificationId, NotificationPage};
use crate::ports::{NotificationRepository, Ports};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;

/// Largest page.
pub const MAX_NOTIFICATIONS_LIMIT: u32 = 100;
/// Page size when the caller names none.
pub const DEFAULT_NOTIFICATIONS_LIMIT: u32 = 20;

/// Which notifications to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotificationQuery {
    /// Page size; clamped to `1..=100`.
    pub limit: u32,
    /// Notifications to skip.
    pub offset: u64,
    /// Only those not read yet.
    pub unread_only: bool,
}

impl Default for NotificationQuery {
    fn default() -> Self {
        Self { limit: DEFAULT_NOTIFICATIONS_LIMIT, offset: 0, unread_only: false }
    }
}

/// Why a notification could not be marked read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// No notification of the caller has this id. Another user's id gets the same answer,
    /// so ids cannot be probed.
    #[error("no such notification")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl<P: Ports> Portcullis<P> {
    /// The caller's notifications, newest first (ties by id descending), with the number the
    /// filter selects and the number unread.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let page = auth.notifications(&me, NotificationQuery::default()).await.unwrap();
    /// assert_eq!((page.total_count, page.unread_count), (1, 1), "the new-sign-in notice");
    /// # let _ = login;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn notifications(
        &self,
        principal: &Principal,
        query: NotificationQuery,
    ) -> Result<NotificationPage, InfraError> {
        let limit = query.limit.clamp(1, MAX_NOTIFICATIONS_LIMIT);
        Ok(self.store.notifications_page(principal.user.id, query.unread_only, limit, query.offset).await?)
    }

    /// Marks one of the caller's notifications read; one already read keeps its first
    /// `read_at`.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let page = auth.notifications(&me, NotificationQuery::default()).await.unwrap();
    /// auth.mark_notification_read(&me, page.items[0].id).await.unwrap();
    /// assert_eq!(auth.notifications(&me, NotificationQuery::default()).await.unwrap().unread_count, 0);
    /// # let _ = login;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] for an unknown id or another user's.
    pub async fn mark_notification_read(
        &self,
        principal: &Principal,
        id: NotificationId,
    ) -> Result<(), NotificationError> {
        let now = self.now();
        match self.store.mark_notification_read(principal.user.id, id, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(NotificationError::NotFound),
            Err(e) => Err(InfraError::from(e).into()),
        }
    }

    /// Marks every unread notification of the caller read; returns how many changed.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// assert_eq!(auth.mark_all_notifications_read(&me).await.unwrap(), 1);
    /// assert_eq!(auth.mark_all_notifications_read(&me).await.unwrap(), 0);
    /// # let _ = login;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn mark_all_notifications_read(&self, principal: &Principal) -> Result<u64, InfraError> {
        let now = self.now();
        Ok(self.store.mark_all_notifications_read(principal.user.id, now).await?)
    }
}
