//! Bodies of the notification endpoints.

use portcullis_domain::model::{Notification, NotificationPage};
use serde::Serialize;
use utoipa::ToSchema;

/// One in-app notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// Notification id (UUID).
    pub id: String,
    /// Type, e.g. `security.new_sign_in`.
    #[serde(rename = "type")]
    pub kind: String,
    /// One-line title.
    pub title: String,
    /// Text body.
    pub body: String,
    /// Structured details (for `security.new_sign_in`: session id, IP, device, location, time).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// When read (RFC 3339, ms, UTC); null while unread.
    pub read_at: Option<String>,
    /// When created (RFC 3339, ms, UTC).
    pub created_at: String,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.to_string(),
            kind: n.kind.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            data: n.data.clone(),
            read_at: n.read_at.map(|t| t.to_rfc3339()),
            created_at: n.created_at.to_rfc3339(),
        }
    }
}

/// The `data` of a notification list.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsPage {
    /// Notifications, newest first.
    pub notifications: Vec<NotificationView>,
    /// Notifications the filter selects, across all pages.
    pub total_count: u64,
    /// Unread notifications of the caller, whatever the filter.
    pub unread_count: u64,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u64,
}

impl NotificationsPage {
    /// The body of one page, with the page size and offset that produced it.
    pub fn new(page: &NotificationPage, limit: u32, offset: u64) -> Self {
        Self {
            notifications: page.items.iter().map(NotificationView::from).collect(),
            total_count: page.total_count,
            unread_count: page.unread_count,
            limit,
            offset,
        }
    }
}

/// `200` of `GET /notifications`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsResponse {
    /// Always true.
    pub success: bool,
    /// The page.
    pub data: NotificationsPage,
}
