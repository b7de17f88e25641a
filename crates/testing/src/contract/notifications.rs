//! In-app notifications: round trip, order, the unread filter and counts, pagination, and
//! read marks that never reach another user's notifications.

use std::time::Duration;

use portcullis_domain::model::{Notification, NotificationId, NotificationPage, Timestamp, User};
use portcullis_domain::ports::{Change, Store};
use serde_json::json;

use super::{T0, commit_ok, insert_user};
use crate::fixtures::notification;

fn secs(s: u64) -> Timestamp {
    T0.plus(Duration::from_secs(s))
}

fn ids(page: &NotificationPage) -> Vec<NotificationId> {
    page.items.iter().map(|n| n.id).collect()
}

async fn insert<S: Store>(store: &S, notifications: &[Notification]) {
    commit_ok(store, notifications.iter().cloned().map(Change::InsertNotification).collect()).await;
}

async fn page<S: Store>(store: &S, user: &User, unread_only: bool, limit: u32, offset: u64) -> NotificationPage {
    store.notifications_page(user.id, unread_only, limit, offset).await.expect("notifications_page")
}

/// `count` unread notifications of `user`, one second apart from `T0` on.
async fn several<S: Store>(store: &S, user: &User, count: u64) -> Vec<Notification> {
    let all: Vec<Notification> = (0..count).map(|i| notification(user, secs(i))).collect();
    insert(store, &all).await;
    all
}

/// A notification reads back field for field, `data` and `read_at` included.
pub async fn notification_round_trips<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut read = notification(&laura, T0.plus(Duration::from_millis(321)));
    read.kind = "security.password_changed".to_owned();
    read.title = "Ümlaut title 🔐".to_owned();
    read.body = "Line one.\nLine two.".to_owned();
    read.data = json!({"nested": {"list": [1, 2.5, null], "flag": true}, "text": "ü"});
    read.read_at = Some(secs(60));
    let unread = notification(&laura, T0);
    insert(store, &[read.clone(), unread.clone()]).await;
    let got = page(store, &laura, false, 10, 0).await;
    assert_eq!(got, NotificationPage { items: vec![read, unread], total_count: 2, unread_count: 1 });
}

/// Newest first; notifications created at the same instant come by id, descending.
pub async fn notifications_newest_first_ties_by_id<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let old = notification(&laura, T0);
    let newest = notification(&laura, secs(20));
    let tied: Vec<Notification> = (0..3).map(|_| notification(&laura, secs(10))).collect();
    insert(store, &[tied[1].clone(), old.clone(), tied[0].clone(), newest.clone(), tied[2].clone()]).await;
    let mut tied_ids: Vec<NotificationId> = tied.iter().map(|n| n.id).collect();
    tied_ids.sort_by(|a, b| b.cmp(a));
    let expected: Vec<NotificationId> =
        std::iter::once(newest.id).chain(tied_ids).chain(std::iter::once(old.id)).collect();
    assert_eq!(ids(&page(store, &laura, false, 10, 0).await), expected);
}

/// `unread_only` selects the unread ones; `total_count` counts what the filter selects and
/// `unread_count` every unread one of the user; other users' notifications count nowhere.
pub async fn notifications_unread_filter_and_counts<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let mut mine = several(store, &laura, 3).await;
    several(store, &ana, 2).await;
    mine[1].read_at = Some(secs(100));
    assert!(store.mark_notification_read(laura.id, mine[1].id, secs(100)).await.expect("mark"));

    let all = page(store, &laura, false, 10, 0).await;
    assert_eq!((all.total_count, all.unread_count), (3, 2));
    assert_eq!(all.items, vec![mine[2].clone(), mine[1].clone(), mine[0].clone()]);
    let unread = page(store, &laura, true, 10, 0).await;
    assert_eq!((unread.total_count, unread.unread_count), (2, 2));
    assert_eq!(ids(&unread), vec![mine[2].id, mine[0].id]);
    let unread_page = page(store, &laura, true, 1, 1).await;
    assert_eq!((ids(&unread_page), unread_page.total_count, unread_page.unread_count), (vec![mine[0].id], 2, 2));

    let nobody = insert_user(store, "nobody@example.com").await;
    assert_eq!(page(store, &nobody, false, 10, 0).await, NotificationPage::default());
}

/// `limit` and `offset` cut the ordered list; the counts stay those of the whole list.
pub async fn notifications_paginate<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mine = several(store, &laura, 5).await;
    let second = page(store, &laura, false, 2, 2).await;
    assert_eq!(ids(&second), vec![mine[2].id, mine[1].id]);
    assert_eq!((second.total_count, second.unread_count), (5, 5));
    assert_eq!(ids(&page(store, &laura, false, 2, 4).await), vec![mine[0].id]);
    let past_the_end = page(store, &laura, false, 2, 50).await;
    assert!(past_the_end.items.is_empty());
    assert_eq!((past_the_end.total_count, past_the_end.unread_count), (5, 5));
}

/// Marking sets `read_at` once: a second mark keeps the first time and still says `true`.
pub async fn mark_notification_read_keeps_first_read_at<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let n = several(store, &laura, 1).await.remove(0);
    assert!(store.mark_notification_read(laura.id, n.id, secs(10)).await.expect("mark"));
    assert!(store.mark_notification_read(laura.id, n.id, secs(20)).await.expect("mark again"));
    let got = page(store, &laura, false, 10, 0).await;
    assert_eq!(got.items[0].read_at, Some(secs(10)));
    assert_eq!(got.unread_count, 0);
}

/// An unknown id and another user's id both answer `false` and change nothing.
pub async fn mark_notification_read_refuses_other_users_ids<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let anas = several(store, &ana, 1).await.remove(0);
    several(store, &laura, 1).await;
    assert!(!store.mark_notification_read(laura.id, anas.id, secs(10)).await.expect("mark"));
    assert!(!store.mark_notification_read(laura.id, NotificationId::new_v7(), secs(10)).await.expect("mark"));
    let still = page(store, &ana, false, 10, 0).await;
    assert_eq!((still.items[0].read_at, still.unread_count), (None, 1));
    assert_eq!(page(store, &laura, false, 10, 0).await.unread_count, 1);
}

/// Read-all marks every unread notification of the caller, counts them, keeps earlier read
/// times, and leaves other users' notifications unread.
pub async fn mark_all_notifications_read_touches_only_the_callers<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let mine = several(store, &laura, 3).await;
    several(store, &ana, 2).await;
    assert!(store.mark_notification_read(laura.id, mine[0].id, secs(5)).await.expect("mark"));
    assert_eq!(store.mark_all_notifications_read(laura.id, secs(50)).await.expect("read-all"), 2);
    assert_eq!(store.mark_all_notifications_read(laura.id, secs(60)).await.expect("read-all"), 0);
    let got = page(store, &laura, false, 10, 0).await;
    let read_at: Vec<_> = got.items.iter().map(|n| n.read_at).collect();
    assert_eq!(read_at, vec![Some(secs(50)), Some(secs(50)), Some(secs(5))]);
    assert_eq!((got.total_count, got.unread_count), (3, 0));
    assert!(page(store, &laura, true, 10, 0).await.items.is_empty());
    assert_eq!(page(store, &ana, false, 10, 0).await.unread_count, 2);
}
