//! In-app notifications and outgoing mail.

use super::{Email, MailId, NotificationId, Timestamp, UserId};

/// An in-app notification.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// Recipient.
    pub user_id: UserId,
    /// Type, e.g. `security.new_sign_in`.
    pub kind: String,
    /// One-line title.
    pub title: String,
    /// Text body.
    pub body: String,
    /// Structured details.
    pub data: serde_json::Value,
    /// When read.
    pub read_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// One page of a user's notifications.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NotificationPage {
    /// The notifications, newest first.
    pub items: Vec<Notification>,
    /// Notifications the query's filter selects, across all pages.
    pub total_count: u64,
    /// Unread notifications of the user, whatever the filter.
    pub unread_count: u64,
}

/// A message waiting in, or claimed from, the durable outbox.
#[derive(Clone, PartialEq)]
pub struct OutgoingMail {
    /// Id (also the Message-ID's local part).
    pub id: MailId,
    /// Recipient address.
    pub to: Email,
    /// Recipient display name.
    pub to_name: Option<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body. May hold a one-time code, so never logged.
    pub body: String,
    /// HTML alternative of `body`, sent with it as `multipart/alternative`; `None` sends the
    /// text alone. Holds the same code as `body`, so never logged either.
    pub html_body: Option<String>,
    /// Delivery tries so far.
    pub attempts: u32,
    /// Earliest next try.
    pub next_attempt_at: Timestamp,
    /// Queued at.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("id", &self.id)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
