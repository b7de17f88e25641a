//! A user's live sessions, the `last_seen_at` touch and profile updates.

use std::time::Duration;

use portcullis_domain::model::{Session, UserName};
use portcullis_domain::ports::{Change, Store};

use super::{T0, commit_ok, insert_user};
use crate::fixtures::session;

/// `live_sessions` lists the user's sessions newest first (ties by id descending), leaving
/// out revoked ones, expired ones (one expiring exactly now included) and other users';
/// `all_sessions` lists the ended ones too.
pub async fn live_sessions_lists_only_the_users_live_ones<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let now = T0.plus(Duration::from_secs(3600));
    let oldest = session(&laura, T0);
    let tie_a = session(&laura, T0.plus(Duration::from_secs(5)));
    let tie_b = session(&laura, T0.plus(Duration::from_secs(5)));
    let newest = session(&laura, T0.plus(Duration::from_secs(9)));
    let revoked = session(&laura, T0.plus(Duration::from_secs(10)));
    let expired = Session { expires_at: now, ..session(&laura, T0.plus(Duration::from_secs(11))) };
    let others = session(&ana, T0.plus(Duration::from_secs(12)));
    let all = [&oldest, &tie_a, &tie_b, &newest, &revoked, &expired, &others];
    commit_ok(store, all.iter().map(|s| Change::InsertSession((*s).clone())).collect()).await;
    commit_ok(store, vec![Change::RevokeSession { session_id: revoked.id, at: T0.plus(Duration::from_secs(20)) }])
        .await;

    let live = store.live_sessions(laura.id, now).await.expect("live_sessions");
    let (tie_hi, tie_lo) = if tie_a.id > tie_b.id { (&tie_a, &tie_b) } else { (&tie_b, &tie_a) };
    assert_eq!(live, vec![newest.clone(), tie_hi.clone(), tie_lo.clone(), oldest.clone()]);
    assert_eq!(store.live_sessions(ana.id, now).await.expect("live_sessions"), vec![others.clone()]);

    // `all_sessions` keeps the ended ones, in the same order, and still no other user's.
    let ids: Vec<_> = store.all_sessions(laura.id).await.expect("all_sessions").iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![expired.id, revoked.id, newest.id, tie_hi.id, tie_lo.id, oldest.id]);
    assert_eq!(store.all_sessions(ana.id).await.expect("all_sessions"), vec![others]);
}

/// `TouchSession` moves `last_seen_at` forward only, and only of that session.
pub async fn touch_session_only_moves_forward<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let one = session(&laura, T0);
    let two = session(&laura, T0);
    commit_ok(store, vec![Change::InsertSession(one.clone()), Change::InsertSession(two.clone())]).await;

    let later = T0.plus(Duration::from_millis(90_001));
    commit_ok(store, vec![Change::TouchSession { session_id: one.id, at: later }]).await;
    commit_ok(store, vec![Change::TouchSession { session_id: one.id, at: T0.plus(Duration::from_secs(60)) }]).await;
    let (read, _) = store.session_with_user(one.id).await.expect("read").expect("session");
    assert_eq!(read, Session { last_seen_at: later, ..one });
    let (other, _) = store.session_with_user(two.id).await.expect("read").expect("session");
    assert_eq!(other, two);
}

/// `UpdateProfile` changes the given fields and `updated_at` only; `Some(None)` clears the
/// picture; other users are untouched.
pub async fn update_profile_changes_only_given_fields<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let picture = "https://cdn.example.com/laura.png".to_owned();

    let t1 = T0.plus(Duration::from_millis(1_001));
    commit_ok(
        store,
        vec![Change::UpdateProfile {
            user_id: laura.id,
            name: None,
            profile_picture: Some(Some(picture.clone())),
            at: t1,
        }],
    )
    .await;
    let read = store.user_by_id(laura.id).await.expect("read").expect("user");
    let expected = portcullis_domain::model::User { profile_picture: Some(picture), updated_at: t1, ..laura.clone() };
    assert_eq!(read, expected);

    let t2 = T0.plus(Duration::from_millis(2_002));
    let name = UserName::parse("Laura Palmer").expect("name");
    commit_ok(
        store,
        vec![Change::UpdateProfile { user_id: laura.id, name: Some(name.clone()), profile_picture: None, at: t2 }],
    )
    .await;
    let read = store.user_by_id(laura.id).await.expect("read").expect("user");
    assert_eq!(read, portcullis_domain::model::User { name: name.clone(), updated_at: t2, ..expected });

    let t3 = T0.plus(Duration::from_millis(3_003));
    commit_ok(
        store,
        vec![Change::UpdateProfile { user_id: laura.id, name: None, profile_picture: Some(None), at: t3 }],
    )
    .await;
    let read = store.user_by_id(laura.id).await.expect("read").expect("user");
    assert_eq!((read.name, read.profile_picture, read.updated_at), (name, None, t3));
    assert_eq!(store.user_by_id(ana.id).await.expect("read"), Some(ana));
}
