//! The caller's sessions (list, revoke, the throttled `last_seen_at` touch), profile updates
//! and security events.

use std::time::Duration;

use portcullis_domain::model::{AuditAction, SessionId, UserName};
use portcullis_domain::{AuthError, ProfileUpdate, SecurityEventQuery, SessionError};

use crate::support::{ctx, login_ok, seed_verified, service};

#[tokio::test]
async fn sessions_lists_live_ones_newest_first_and_revoke_ends_one() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let first = login_ok(&svc, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(1));
    let second = login_ok(&svc, "laura@example.com").await;
    let me = svc.authenticate(&second.access_token).await.unwrap();

    let ids: Vec<SessionId> = svc.sessions(&me).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![second.session_id, first.session_id]);

    svc.revoke_session(&me, first.session_id, &ctx()).await.unwrap();
    assert!(matches!(svc.authenticate(&first.access_token).await, Err(AuthError::Unauthorized)));
    let ids: Vec<SessionId> = svc.sessions(&me).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![second.session_id]);
    let entry = h.store.audit_entries().into_iter().last().unwrap();
    assert_eq!(entry.action, "auth.session.revoked");
    assert_eq!(entry.metadata["session_id"], first.session_id.to_string());

    // Already revoked, unknown and another user's ids all read as not found.
    assert!(matches!(svc.revoke_session(&me, first.session_id, &ctx()).await, Err(SessionError::NotFound)));
    assert!(matches!(svc.revoke_session(&me, SessionId::new_v7(), &ctx()).await, Err(SessionError::NotFound)));
    seed_verified(&h, "ana@example.com").await;
    let ana = login_ok(&svc, "ana@example.com").await;
    assert!(matches!(svc.revoke_session(&me, ana.session_id, &ctx()).await, Err(SessionError::NotFound)));
    assert!(svc.authenticate(&ana.access_token).await.is_ok());

    // The current session too: its token is refused from then on.
    svc.revoke_session(&me, second.session_id, &ctx()).await.unwrap();
    assert!(matches!(svc.authenticate(&second.access_token).await, Err(AuthError::Unauthorized)));
}

#[tokio::test]
async fn last_seen_at_is_written_at_most_once_a_minute() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let last_seen = || h.store.sessions().into_iter().find(|s| s.id == out.session_id).unwrap().last_seen_at;
    let signed_in = last_seen();

    h.clock.advance(Duration::from_secs(59));
    svc.authenticate(&out.access_token).await.unwrap();
    assert_eq!(last_seen(), signed_in, "within a minute: no write");
    let at = h.clock.advance(Duration::from_secs(1));
    svc.authenticate(&out.access_token).await.unwrap();
    assert_eq!(last_seen(), at);
    h.clock.advance(Duration::from_secs(30));
    svc.authenticate(&out.access_token).await.unwrap();
    assert_eq!(last_seen(), at);
}

#[tokio::test]
async fn update_profile_changes_given_fields_and_audits_their_names() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = svc.authenticate(&out.access_token).await.unwrap();
    let audits = h.store.audit_entries().len();

    // Nothing given: nothing written.
    let same = svc.update_profile(&me, ProfileUpdate::default(), &ctx()).await.unwrap();
    assert_eq!(same, me.user);
    assert_eq!(h.store.audit_entries().len(), audits);

    let at = h.clock.advance(Duration::from_secs(3));
    let update = ProfileUpdate {
        name: Some(UserName::parse("Laura P").unwrap()),
        profile_picture: Some(Some("https://cdn.example.com/l.png".to_owned())),
    };
    let user = svc.update_profile(&me, update, &ctx()).await.unwrap();
    assert_eq!(
        (user.name.as_str(), user.profile_picture.as_deref()),
        ("Laura P", Some("https://cdn.example.com/l.png"))
    );
    assert_eq!(user.updated_at, at);
    assert_eq!(h.store.users().into_iter().find(|u| u.id == user.id).unwrap(), user);
    let entry = h.store.audit_entries().into_iter().last().unwrap();
    assert_eq!(entry.action, "user.profile.updated");
    assert_eq!(entry.metadata["fields"], serde_json::json!(["name", "profile_picture"]));

    let me = svc.authenticate(&out.access_token).await.unwrap();
    let cleared =
        svc.update_profile(&me, ProfileUpdate { name: None, profile_picture: Some(None) }, &ctx()).await.unwrap();
    assert_eq!((cleared.name.as_str(), cleared.profile_picture), ("Laura P", None));
}

#[tokio::test]
async fn security_events_lists_every_action_or_one() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = svc.authenticate(&out.access_token).await.unwrap();
    svc.logout(&me, &ctx()).await.unwrap();

    let all = svc.security_events(laura.id, SecurityEventQuery { action: None, limit: 50, offset: 0 }).await.unwrap();
    let actions: Vec<&str> = all.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["auth.logout", "auth.login.success"]);
    let logouts = svc
        .security_events(laura.id, SecurityEventQuery { action: Some(AuditAction::Logout), limit: 500, offset: 0 })
        .await
        .unwrap();
    assert_eq!((logouts.items.len(), logouts.total_count), (1, 1));
}
