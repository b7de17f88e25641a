//! The caller's notifications: a login creates one; listing clamps the page; marking one
//! read refuses other users' ids as not found; read-all clears the unread count.

use std::time::Duration;

use portcullis_domain::model::{NotificationId, SessionId, User};
use portcullis_domain::{NotificationError, NotificationQuery, Principal};
use portcullis_testing::fakes::T0;

use crate::support::{login_ok, seed_verified, service};

fn principal(user: &User) -> Principal {
    Principal {
        user: user.clone(),
        session_id: SessionId::new_v7(),
        location: None,
        aal: portcullis_domain::model::Aal::One,
        amr: vec![portcullis_domain::model::AuthMethod::Password],
    }
}

fn all(limit: u32) -> NotificationQuery {
    NotificationQuery { limit, ..NotificationQuery::default() }
}

#[tokio::test]
async fn a_login_notifies_and_the_owner_can_list_and_mark_it() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    login_ok(&svc, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(1));
    login_ok(&svc, "laura@example.com").await;
    let me = principal(&laura);

    let page = svc.notifications(&me, NotificationQuery::default()).await.unwrap();
    assert_eq!((page.items.len(), page.total_count, page.unread_count), (2, 2, 2));
    assert_eq!(page.items[0].kind, "security.new_sign_in");
    assert!(page.items[0].created_at > page.items[1].created_at, "newest first");
    assert!(page.items[0].body.contains("81.2.69.142"), "{}", page.items[0].body);

    let at = h.clock.advance(Duration::from_secs(5));
    svc.mark_notification_read(&me, page.items[1].id).await.unwrap();
    let page = svc.notifications(&me, NotificationQuery { unread_only: true, ..all(20) }).await.unwrap();
    assert_eq!((page.items.len(), page.total_count, page.unread_count), (1, 1, 1));
    assert_eq!(h.store.notifications().iter().filter(|n| n.read_at == Some(at)).count(), 1);

    assert_eq!(svc.mark_all_notifications_read(&me).await.unwrap(), 1);
    assert_eq!(svc.notifications(&me, all(20)).await.unwrap().unread_count, 0);
}

#[tokio::test]
async fn another_users_or_an_unknown_id_is_not_found() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    login_ok(&svc, "ana@example.com").await;
    let anas = h.store.notifications()[0].id;
    let err = svc.mark_notification_read(&principal(&laura), anas).await.unwrap_err();
    assert!(matches!(err, NotificationError::NotFound), "{err:?}");
    let err = svc.mark_notification_read(&principal(&laura), NotificationId::new_v7()).await.unwrap_err();
    assert!(matches!(err, NotificationError::NotFound), "{err:?}");
    assert_eq!(h.store.notifications()[0].read_at, None);
    assert_eq!(svc.mark_all_notifications_read(&principal(&laura)).await.unwrap(), 0);
    assert_eq!(svc.notifications(&principal(&ana), all(20)).await.unwrap().unread_count, 1);
}

#[tokio::test]
async fn the_page_size_is_clamped_and_a_failing_store_is_infra() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    for i in 0..3 {
        h.clock.advance(Duration::from_secs(i));
        login_ok(&svc, "laura@example.com").await;
    }
    let me = principal(&laura);
    assert_eq!(svc.notifications(&me, all(0)).await.unwrap().items.len(), 1);
    assert_eq!(svc.notifications(&me, all(1_000)).await.unwrap().items.len(), 3);
    let page = svc.notifications(&me, NotificationQuery { offset: 2, ..all(20) }).await.unwrap();
    assert_eq!((page.items.len(), page.total_count), (1, 3));
    assert!(page.items[0].created_at >= T0);
    h.store.set_unavailable(true);
    assert!(svc.notifications(&me, all(20)).await.is_err());
    let err = svc.mark_notification_read(&me, NotificationId::new_v7()).await.unwrap_err();
    assert!(matches!(err, NotificationError::Infra(_)), "{err:?}");
}
