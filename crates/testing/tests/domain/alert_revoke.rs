//! GET /auth/sessions/revoke-from-alert: the "Not you?" link of a new-sign-in mail.

use std::time::Duration;

use portcullis_domain::model::CodePurpose;
use portcullis_domain::{AlertRevokeError, AuthError, InfraError, LoginOutcome, Policy};
use portcullis_testing::fixtures::PASSWORD;
use portcullis_testing::{TestHandles, test_service};
use serde_json::json;

use crate::support::{
    NEW_PASSWORD, Service, alert_token, audits, code, ctx, ctx_from, email, login_ok, login_request, mail_with_subject,
    new_password, seed_verified, service, stored_session,
};

const SIGN_IN_SUBJECT: &str = "New sign-in to your Portcullis account";
const RESET_SUBJECT: &str = "Your Portcullis password reset code";

/// The alert tokens of every new-sign-in mail to laura, oldest first.
fn alert_tokens(h: &TestHandles) -> Vec<String> {
    mail_with_subject(h, "laura@example.com", SIGN_IN_SUBJECT).iter().map(alert_token).collect()
}

/// Logs laura in with "remember me", so the session outlives the alert token.
async fn long_login(svc: &Service) -> LoginOutcome {
    svc.login(login_request("laura@example.com", PASSWORD, true), &ctx()).await.expect("login")
}

/// Counts of what a use of the link can add.
fn footprint(h: &TestHandles) -> (usize, usize, usize, usize) {
    (h.store.audit_entries().len(), h.store.queued_mail().len(), h.store.codes().len(), h.store.notifications().len())
}

#[tokio::test]
async fn the_alert_link_revokes_that_session_only_and_mails_a_reset_code() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let first = login_ok(&svc, "laura@example.com").await;
    let second = login_ok(&svc, "laura@example.com").await;
    let tokens = alert_tokens(&h);
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
    let now = h.clock.advance(Duration::from_secs(600));

    svc.revoke_from_alert(&tokens[0], &ctx_from("192.0.2.7")).await.unwrap();

    assert_eq!(stored_session(&h, first.session_id).revoked_at, Some(now));
    assert!(matches!(svc.authenticate(&first.access_token).await, Err(AuthError::Unauthorized)));
    svc.authenticate(&second.access_token).await.expect("the other session lives");
    assert_eq!(stored_session(&h, first.session_id).alert_token_hash, None, "the token is used up");

    let entries = audits(&h, "auth.session.revoked");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
    assert_eq!(
        serde_json::Value::Object(entries[0].metadata.clone()),
        json!({"session_id": first.session_id.to_string(), "via": "alert"})
    );

    let codes = h.store.codes();
    assert_eq!(codes.len(), 1);
    assert_eq!((codes[0].user_id, codes[0].purpose), (laura.id, CodePurpose::ResetPassword));
    assert_eq!(codes[0].expires_at, now.plus(Duration::from_secs(15 * 60)));
    let digits = h.random.last_code().unwrap();
    let mails = mail_with_subject(&h, "laura@example.com", RESET_SUBJECT);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body.contains(&digits));

    // The mailed code does what it says.
    svc.reset_password(&email("laura@example.com"), &code(&digits), &new_password(NEW_PASSWORD), &ctx()).await.unwrap();
}

#[tokio::test]
async fn the_alert_link_works_once() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    login_ok(&svc, "laura@example.com").await;
    let token = alert_tokens(&h).remove(0);
    svc.revoke_from_alert(&token, &ctx()).await.unwrap();
    let after_first = footprint(&h);
    h.clock.advance(Duration::from_secs(61));

    svc.revoke_from_alert(&token, &ctx()).await.unwrap();

    assert_eq!(footprint(&h), after_first, "no second audit entry, code or mail");
    assert_eq!(mail_with_subject(&h, "laura@example.com", RESET_SUBJECT).len(), 1);
}

#[tokio::test]
async fn the_alert_link_expires_after_seven_days() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let early = long_login(&svc).await;
    let late = long_login(&svc).await;
    let tokens = alert_tokens(&h);
    let week = Duration::from_secs(7 * 24 * 3600);

    h.clock.advance(week - Duration::from_millis(1));
    svc.revoke_from_alert(&tokens[0], &ctx()).await.unwrap();
    assert!(stored_session(&h, early.session_id).revoked_at.is_some(), "works until its last millisecond");

    h.clock.advance(Duration::from_millis(1));
    let before = footprint(&h);
    svc.revoke_from_alert(&tokens[1], &ctx()).await.unwrap();
    assert_eq!(stored_session(&h, late.session_id).revoked_at, None);
    assert_eq!(footprint(&h), before);
    svc.authenticate(&svc.refresh(&late.refresh_token, &ctx()).await.unwrap().access_token).await.unwrap();
}

#[tokio::test]
async fn the_alert_ttl_follows_the_policy() {
    let policy = Policy { alert_token_ttl: Duration::from_secs(3600), ..Policy::default() };
    let (svc, h) = test_service(policy);
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    assert_eq!(stored_session(&h, out.session_id).alert_expires_at, Some(svc.now().plus(Duration::from_secs(3600))));
    h.clock.advance(Duration::from_secs(3600));
    svc.revoke_from_alert(&alert_tokens(&h)[0], &ctx()).await.unwrap();
    assert_eq!(stored_session(&h, out.session_id).revoked_at, None);
}

#[tokio::test]
async fn an_unknown_token_is_ok_and_changes_nothing() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let before = (footprint(&h), h.store.sessions());
    for token in ["", "test-token-0000000000000000000000000000000000000", &out.refresh_token, &out.access_token] {
        svc.revoke_from_alert(token, &ctx()).await.unwrap();
    }
    assert_eq!((footprint(&h), h.store.sessions()), before);
}

#[tokio::test]
async fn the_alert_of_a_deleted_account_revokes_but_mails_no_code() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    assert!(h.store.modify_user(laura.id, |u| u.deleted_at = Some(u.created_at)));
    svc.revoke_from_alert(&alert_tokens(&h)[0], &ctx()).await.unwrap();
    assert!(stored_session(&h, out.session_id).revoked_at.is_some());
    assert_eq!(audits(&h, "auth.session.revoked").len(), 1);
    assert!(h.store.codes().is_empty());
    assert!(mail_with_subject(&h, "laura@example.com", RESET_SUBJECT).is_empty());
}

#[tokio::test]
async fn the_per_ip_limit_applies() {
    let policy = Policy { requests_per_ip_per_minute: 1, ..Policy::default() };
    let (svc, h) = test_service(policy);
    seed_verified(&h, "laura@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx_from("192.0.2.1")).await.unwrap();
    let token = alert_tokens(&h).remove(0);
    svc.revoke_from_alert("test-token-unknown", &ctx()).await.unwrap();
    let err = svc.revoke_from_alert(&token, &ctx()).await.unwrap_err();
    assert!(matches!(err, AlertRevokeError::RateLimited { .. }), "{err:?}");
    assert_eq!(stored_session(&h, out.session_id).revoked_at, None);
    svc.revoke_from_alert(&token, &ctx_from("192.0.2.2")).await.unwrap();
    assert!(stored_session(&h, out.session_id).revoked_at.is_some());
}

#[tokio::test]
async fn a_store_outage_is_infra() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let token = alert_tokens(&h).remove(0);
    h.store.set_commits_unavailable(true);
    let err = svc.revoke_from_alert(&token, &ctx()).await.unwrap_err();
    assert!(matches!(err, AlertRevokeError::Infra(InfraError::Unavailable(_))), "{err:?}");
    h.store.set_commits_unavailable(false);
    svc.revoke_from_alert(&token, &ctx()).await.expect("the token survived the failed commit");
    assert!(stored_session(&h, out.session_id).revoked_at.is_some());
}
