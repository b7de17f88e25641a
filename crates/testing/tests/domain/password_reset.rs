//! POST /auth/forgot-password and /auth/reset-password: a mailed code sets a new password
//! and signs the account out everywhere.

use std::time::Duration;

use portcullis_domain::model::{AccountBlock, CodePurpose};
use portcullis_domain::{AuthError, ForgotPasswordError, InfraError, LoginError, Policy, ResetPasswordError};
use portcullis_testing::fakes::{FastHasher, T0};
use portcullis_testing::fixtures::{self, PASSWORD};
use portcullis_testing::{TestHandles, test_service};
use serde_json::json;

use crate::support::{
    NEW_PASSWORD, Service, audits, code, ctx, ctx_from, email, login_ok, login_request, mail_with_subject,
    new_password, register, seed, seed_verified, service, stored_user,
};

const RESET_SUBJECT: &str = "Your Portcullis password reset code";
const CHANGED_SUBJECT: &str = "Your Portcullis password was changed";

/// A code of six digits that is not `right`.
fn wrong(right: &str) -> String {
    if right == "000000" { "000001".to_owned() } else { "000000".to_owned() }
}

async fn forgot(svc: &Service, address: &str) {
    svc.forgot_password(&email(address), &ctx()).await.expect("forgot-password answers Ok");
}

/// Asks for a reset code for `address` and returns it.
async fn reset_code(svc: &Service, h: &TestHandles, address: &str) -> String {
    let issued = h.random.codes().len();
    forgot(svc, address).await;
    assert_eq!(h.random.codes().len(), issued + 1, "a code was issued");
    h.random.last_code().expect("a code")
}

async fn reset(svc: &Service, address: &str, digits: &str) -> Result<(), ResetPasswordError> {
    svc.reset_password(&email(address), &code(digits), &new_password(NEW_PASSWORD), &ctx()).await
}

async fn login(svc: &Service, address: &str, password: &str) -> Result<(), LoginError> {
    svc.login(login_request(address, password, false), &ctx()).await.map(|_| ())
}

#[tokio::test]
async fn forgot_password_mails_a_reset_code_to_an_existing_account() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let now = h.clock.advance(Duration::from_secs(5));
    let digits = reset_code(&svc, &h, "Laura@Example.com").await;

    let codes = h.store.codes();
    assert_eq!(codes.len(), 1);
    assert_eq!((codes[0].user_id, codes[0].purpose), (laura.id, CodePurpose::ResetPassword));
    assert_eq!(codes[0].expires_at, now.plus(Duration::from_secs(15 * 60)));
    assert_ne!(codes[0].digest.as_bytes(), digits.as_bytes(), "only a digest is stored");
    let mails = mail_with_subject(&h, "laura@example.com", RESET_SUBJECT);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body.contains(&digits) && mails[0].body.contains("15 minutes"));
    assert!(!mails[0].subject.contains(&digits), "subjects never hold a code");
    let entries = audits(&h, "auth.password.reset_requested");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
}

#[tokio::test]
async fn forgot_password_is_silent_for_unknown_and_deleted_addresses() {
    let (svc, h) = service();
    let mut gone = fixtures::user("gone@example.com", T0);
    gone.deleted_at = Some(T0);
    seed(&h, gone).await;
    forgot(&svc, "nobody@example.com").await;
    forgot(&svc, "gone@example.com").await;
    assert!(h.store.codes().is_empty());
    assert!(h.store.queued_mail().is_empty());
    assert!(h.store.audit_entries().is_empty());
    assert!(h.random.codes().is_empty(), "no code was even drawn");
}

#[tokio::test]
async fn forgot_password_past_the_address_limit_silently_sends_nothing() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let first = reset_code(&svc, &h, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(59));
    forgot(&svc, "laura@example.com").await;
    assert_eq!(mail_with_subject(&h, "laura@example.com", RESET_SUBJECT).len(), 1);
    assert_eq!(h.random.codes(), vec![first.clone()], "no second code");

    h.clock.advance(Duration::from_secs(1));
    let second = reset_code(&svc, &h, "laura@example.com").await;
    assert_eq!(mail_with_subject(&h, "laura@example.com", RESET_SUBJECT).len(), 2);
    assert!(matches!(reset(&svc, "laura@example.com", &first).await, Err(ResetPasswordError::InvalidCode)));
    reset(&svc, "laura@example.com", &second).await.expect("the newest code replaces the older one");
}

#[tokio::test]
async fn forgot_password_limits_unknown_addresses_alike() {
    let policy = Policy { resends_per_hour: 1, ..Policy::default() };
    let (svc, h) = test_service(policy);
    forgot(&svc, "nobody@example.com").await;
    assert_eq!(h.store.rate_events("reset-mail:nobody@example.com"), 1);
    h.clock.advance(Duration::from_secs(120));
    forgot(&svc, "nobody@example.com").await;
    assert_eq!(h.store.rate_events("reset-mail:nobody@example.com"), 1, "limited like a known address");
}

#[tokio::test]
async fn the_right_code_sets_the_password_and_signs_out_everywhere() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let a = login_ok(&svc, "laura@example.com").await;
    let b = login_ok(&svc, "laura@example.com").await;
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    let now = h.clock.advance(Duration::from_secs(120));

    reset(&svc, "laura@example.com", &digits).await.unwrap();

    let user = stored_user(&h, laura.id);
    assert_eq!((user.password_hash, user.updated_at), (FastHasher::hash_of(NEW_PASSWORD), now));
    for out in [&a, &b] {
        assert!(matches!(svc.authenticate(&out.access_token).await, Err(AuthError::Unauthorized)));
        assert!(svc.refresh(&out.refresh_token, &ctx()).await.is_err());
    }
    assert_eq!(h.store.codes()[0].consumed_at, Some(now));
    let entries = audits(&h, "auth.password.reset");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
    assert_eq!(serde_json::Value::Object(entries[0].metadata.clone()), json!({}));
    let notices = mail_with_subject(&h, "laura@example.com", CHANGED_SUBJECT);
    assert_eq!(notices.len(), 1);
    assert!(notices[0].body.contains(&now.to_rfc3339()) && notices[0].body.contains(fixtures::LONDON_IP));
    assert!(!notices[0].body.contains(NEW_PASSWORD));

    assert!(matches!(login(&svc, "laura@example.com", PASSWORD).await, Err(LoginError::InvalidCredentials)));
    login(&svc, "laura@example.com", NEW_PASSWORD).await.expect("the new password works");
}

#[tokio::test]
async fn a_wrong_code_is_invalid_and_counted() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    let err = reset(&svc, "laura@example.com", &wrong(&digits)).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");
    assert_eq!(h.store.codes()[0].attempts, 1);
    assert_eq!(h.store.rate_events("code-failures:reset_password:laura@example.com"), 1);
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
    assert!(audits(&h, "auth.password.reset").is_empty());
    reset(&svc, "laura@example.com", &digits).await.expect("a later right try still works");
    assert_eq!(
        h.store.rate_events("code-failures:reset_password:laura@example.com"),
        1,
        "the right try is not a failure"
    );
}

#[tokio::test]
async fn five_wrong_codes_burn_it() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    for _ in 0..5 {
        let err = reset(&svc, "laura@example.com", &wrong(&digits)).await.unwrap_err();
        assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");
    }
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::AttemptsExceeded), "{err:?}");
    h.clock.advance(Duration::from_secs(61));
    let fresh = reset_code(&svc, &h, "laura@example.com").await;
    reset(&svc, "laura@example.com", &fresh).await.expect("a new code has its own tries");
}

#[tokio::test]
async fn a_code_expires_after_fifteen_minutes() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(15 * 60) - Duration::from_millis(1));
    let still_fresh = h.store.codes()[0].clone();
    assert!(svc.now() < still_fresh.expires_at);
    h.clock.advance(Duration::from_millis(1));
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::CodeExpired), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
}

#[tokio::test]
async fn a_code_works_once() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    reset(&svc, "laura@example.com", &digits).await.unwrap();
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");
    assert_eq!(audits(&h, "auth.password.reset").len(), 1);
}

#[tokio::test]
async fn a_verification_code_is_not_a_reset_code() {
    let (svc, h) = service();
    let verify_digits = register(&svc, &h, "laura@example.com").await;
    let err = reset(&svc, "laura@example.com", &verify_digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");

    let reset_digits = reset_code(&svc, &h, "laura@example.com").await;
    let err = svc.verify_email(&email("laura@example.com"), &code(&reset_digits), &ctx()).await.unwrap_err();
    assert!(matches!(err, portcullis_domain::VerifyEmailError::InvalidCode), "{err:?}");
    // Asking for a reset code left the verification code alone, and the other way round.
    svc.verify_email(&email("laura@example.com"), &code(&verify_digits), &ctx()).await.unwrap();
    reset(&svc, "laura@example.com", &reset_digits).await.unwrap();
}

#[tokio::test]
async fn unknown_and_deleted_addresses_get_invalid_code() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    let err = reset(&svc, "nobody@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");
    assert!(h.store.modify_user(laura.id, |u| u.deleted_at = Some(T0)));
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
}

/// The answers to a run of guesses at `address`'s reset code, as error names.
async fn answers(svc: &Service, address: &str, tries: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..tries {
        let err = reset(svc, address, "000000").await.expect_err("a wrong code is refused");
        seen.push(format!("{err:?}"));
    }
    seen
}

#[tokio::test]
async fn guessing_reveals_nothing_about_whether_an_address_has_an_account() {
    let policy = Policy { requests_per_ip_per_minute: 1_000, ..Policy::default() };
    let (svc, h) = test_service(policy);
    let laura = seed_verified(&h, "laura@example.com").await;
    let gone = seed_verified(&h, "gone@example.com").await;
    assert!(h.store.modify_user(gone.id, |u| u.deleted_at = Some(T0)));

    let unknown = answers(&svc, "nobody@example.com", 21).await;
    let mut expected = vec!["InvalidCode".to_owned(); 20];
    expected.push("AttemptsExceeded".to_owned());
    assert_eq!(unknown, expected, "20 wrong tries a day per address, then no more");
    assert_eq!(answers(&svc, "laura@example.com", 21).await, unknown, "an account without a code");
    assert_eq!(answers(&svc, "gone@example.com", 21).await, unknown, "a deleted account");
    // Reset guesses do not use up the address's verification tries.
    assert_eq!(h.store.rate_events("code-failures:verify_email:laura@example.com"), 0);
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
}

#[tokio::test]
async fn a_reset_does_not_unblock_a_suspended_account() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    assert!(h.store.modify_user(laura.id, |u| u.status = portcullis_domain::model::AccountStatus::Suspended));
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    reset(&svc, "laura@example.com", &digits).await.unwrap();
    let err = login(&svc, "laura@example.com", NEW_PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::Blocked(AccountBlock::Suspended)), "{err:?}");
}

#[tokio::test]
async fn the_per_ip_limit_applies_to_both_steps() {
    let policy = Policy { requests_per_ip_per_minute: 1, ..Policy::default() };
    let (svc, h) = test_service(policy);
    seed_verified(&h, "laura@example.com").await;
    forgot(&svc, "laura@example.com").await;
    let err = svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, ForgotPasswordError::RateLimited { .. }), "{err:?}");
    let digits = h.random.last_code().unwrap();
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::RateLimited { .. }), "{err:?}");
    assert_eq!(h.store.codes()[0].attempts, 0, "a limited call tries no code");
    svc.reset_password(
        &email("laura@example.com"),
        &code(&digits),
        &new_password(NEW_PASSWORD),
        &ctx_from("192.0.2.3"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn store_and_hasher_failures_are_infra() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    h.store.set_commits_unavailable(true);
    let err = svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, ForgotPasswordError::Infra(InfraError::Unavailable(_))), "{err:?}");
    h.store.set_commits_unavailable(false);
    h.clock.advance(Duration::from_secs(61));
    let digits = reset_code(&svc, &h, "laura@example.com").await;

    h.hasher.set_busy(true);
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::Infra(InfraError::Busy { .. })), "{err:?}");
    h.hasher.set_busy(false);
    h.store.set_commits_unavailable(true);
    let err = reset(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, ResetPasswordError::Infra(InfraError::Unavailable(_))), "{err:?}");
    h.store.set_commits_unavailable(false);
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));
    reset(&svc, "laura@example.com", &digits).await.expect("failed attempts did not use the code up");
}

#[tokio::test]
async fn a_password_reset_lifts_the_lockout() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..5 {
        let _ = login(&svc, "laura@example.com", "wrong password entirely").await;
    }
    assert!(matches!(login(&svc, "laura@example.com", PASSWORD).await, Err(LoginError::TooManyAttempts { .. })));
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    reset(&svc, "laura@example.com", &digits).await.unwrap();
    login(&svc, "laura@example.com", NEW_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn a_failed_reset_lifts_nothing() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..5 {
        let _ = login(&svc, "laura@example.com", "wrong password entirely").await;
    }
    let digits = reset_code(&svc, &h, "laura@example.com").await;
    assert!(reset(&svc, "laura@example.com", &wrong(&digits)).await.is_err());
    assert!(matches!(login(&svc, "laura@example.com", PASSWORD).await, Err(LoginError::TooManyAttempts { .. })));
}
