//! POST /users/me/password: the current password confirms the change, which signs out every
//! other session.

use std::time::Duration;

use portcullis_domain::model::Password;
use portcullis_domain::{AuthError, ChangePasswordError, InfraError, LoginError};
use portcullis_testing::fakes::FastHasher;
use portcullis_testing::fixtures::{LONDON_IP, PASSWORD};
use serde_json::json;

use crate::support::{
    NEW_PASSWORD, Service, audits, ctx, login_ok, login_request, mail_with_subject, new_password, principal,
    seed_verified, service, stored_user,
};

const CHANGED_SUBJECT: &str = "Your Portcullis password was changed";

async fn change(svc: &Service, me: &portcullis_domain::Principal, current: &str) -> Result<(), ChangePasswordError> {
    svc.change_password(me, Password::new(current), &new_password(NEW_PASSWORD), &ctx()).await
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_audited_as_a_failed_login() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &out).await;
    let mails = h.store.queued_mail().len();

    let err = change(&svc, &me, "not my password").await.unwrap_err();

    assert!(matches!(err, ChangePasswordError::WrongPassword), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
    svc.authenticate(&out.access_token).await.expect("nothing was revoked");
    let failure = h.store.audit_entries().pop().unwrap();
    assert_eq!((failure.action.as_str(), failure.user_id), ("auth.login.failure", Some(laura.id)));
    assert_eq!(
        serde_json::Value::Object(failure.metadata),
        json!({"reason": "invalid_password", "method": "reauthentication"})
    );
    assert_eq!(h.store.queued_mail().len(), mails, "no notice");
    assert_eq!(h.hasher.hash_calls(), 0, "no new hash was made");
}

#[tokio::test]
async fn the_right_password_changes_it_and_signs_out_the_other_sessions() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let other = login_ok(&svc, "laura@example.com").await;
    let mine = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &mine).await;
    let now = h.clock.advance(Duration::from_secs(30));

    change(&svc, &me, PASSWORD).await.unwrap();

    let user = stored_user(&h, laura.id);
    assert_eq!((user.password_hash, user.updated_at), (FastHasher::hash_of(NEW_PASSWORD), now));
    assert!(matches!(svc.authenticate(&other.access_token).await, Err(AuthError::Unauthorized)));
    svc.authenticate(&mine.access_token).await.expect("the current session is kept");
    svc.refresh(&mine.refresh_token, &ctx()).await.expect("and can still refresh");

    let entries = audits(&h, "auth.password.changed");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
    let notices = mail_with_subject(&h, "laura@example.com", CHANGED_SUBJECT);
    assert_eq!(notices.len(), 1);
    assert!(notices[0].body.contains(LONDON_IP) && notices[0].body.contains(&now.to_rfc3339()));

    let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    svc.login(login_request("laura@example.com", NEW_PASSWORD, false), &ctx()).await.expect("the new one works");
}

#[tokio::test]
async fn five_wrong_passwords_lock_it_like_logins_do() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &out).await;
    let verified_before = h.hasher.verify_calls();
    for _ in 0..5 {
        assert!(matches!(change(&svc, &me, "not my password").await, Err(ChangePasswordError::WrongPassword)));
    }

    let err = change(&svc, &me, PASSWORD).await.unwrap_err();

    assert!(
        matches!(err, ChangePasswordError::TooManyAttempts { retry_after } if retry_after == Duration::from_secs(30 * 60)),
        "{err:?}"
    );
    assert_eq!(h.hasher.verify_calls(), verified_before + 5, "a locked request checks no password");
    let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::TooManyAttempts { .. }), "logins share the limit: {err:?}");
    assert!(audits(&h, "auth.password.changed").is_empty());
}

#[tokio::test]
async fn failed_logins_count_against_the_confirmation_too() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &out).await;
    for _ in 0..5 {
        let _ = svc.login(login_request("laura@example.com", "not my password", false), &ctx()).await;
    }
    assert!(matches!(change(&svc, &me, PASSWORD).await, Err(ChangePasswordError::TooManyAttempts { .. })));
}

#[tokio::test]
async fn a_right_password_does_not_use_up_a_failure_slot() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &out).await;
    change(&svc, &me, PASSWORD).await.unwrap();
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0);
}

#[tokio::test]
async fn a_busy_hasher_is_infra_and_not_a_failed_attempt() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &out).await;
    h.hasher.set_busy(true);
    for _ in 0..6 {
        let err = change(&svc, &me, "not my password").await.unwrap_err();
        assert!(matches!(err, ChangePasswordError::Infra(InfraError::Busy { .. })), "{err:?}");
    }
    h.hasher.set_busy(false);
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0);
    change(&svc, &me, PASSWORD).await.unwrap();
}

#[tokio::test]
async fn a_failed_commit_changes_nothing() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let other = login_ok(&svc, "laura@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    h.store.set_commits_unavailable(true);
    let err = change(&svc, &me, PASSWORD).await.unwrap_err();
    assert!(matches!(err, ChangePasswordError::Infra(InfraError::Unavailable(_))), "{err:?}");
    h.store.set_commits_unavailable(false);
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
    svc.authenticate(&other.access_token).await.expect("nothing was revoked");
}
