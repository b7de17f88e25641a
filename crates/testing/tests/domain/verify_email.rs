//! POST /auth/verify-email: a code works once, within its lifetime and its tries.

use std::time::Duration;

use portcullis_domain::model::RequestContext;
use portcullis_domain::{Policy, VerifyEmailError};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{self, LONDON_IP};

use crate::support::{Service, code, ctx, email, register, seed, seed_verified, service, shared_service};
use portcullis_testing::TestHandles;

/// A code of six digits that is not `right`.
fn wrong(right: &str) -> String {
    if right == "000000" { "000001".to_owned() } else { "000000".to_owned() }
}

async fn verify(svc: &Service, address: &str, digits: &str) -> Result<(), VerifyEmailError> {
    svc.verify_email(&email(address), &code(digits), &ctx()).await
}

async fn resend(svc: &Service, h: &TestHandles, address: &str) -> String {
    // Mail to one address is limited to one a minute (registration included).
    h.clock.advance(std::time::Duration::from_secs(61));
    svc.resend_verification(&email(address), &ctx()).await.expect("resend");
    h.random.last_code().expect("code")
}

#[tokio::test]
async fn right_code_verifies_once_and_is_audited() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    let at = h.clock.advance(Duration::from_secs(90));
    verify(&svc, "laura@example.com", &digits).await.unwrap();

    let user = h.store.user_with_email("laura@example.com").unwrap();
    assert_eq!(user.email_verified_at, Some(at));
    assert_eq!(user.updated_at, at);
    assert_eq!(h.store.codes()[0].consumed_at, Some(at));
    let entry = h.store.audit_entries().pop().unwrap();
    assert_eq!(entry.action, "auth.email.verified");
    assert_eq!(entry.user_id, Some(user.id));
    assert_eq!(entry.ip_address, Some(fixtures::ip(LONDON_IP)));
    assert_eq!(entry.created_at, at);

    let err = verify(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::InvalidCode), "{err:?}");
}

#[tokio::test]
async fn wrong_code_unknown_address_and_verified_account_are_all_invalid() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    seed_verified(&h, "ana@example.com").await;
    let mut gone = fixtures::unverified_user("gone@example.com", T0);
    gone.deleted_at = Some(T0);
    seed(&h, gone).await;
    for (address, digits) in [
        ("laura@example.com", wrong(&digits)),
        ("nobody@example.com", digits.clone()),
        ("ana@example.com", digits.clone()),
        ("gone@example.com", digits.clone()),
    ] {
        let err = verify(&svc, address, &digits).await.unwrap_err();
        assert!(matches!(err, VerifyEmailError::InvalidCode), "{address}: {err:?}");
    }
    assert_eq!(h.store.user_with_email("laura@example.com").unwrap().email_verified_at, None);
}

#[tokio::test]
async fn code_expires_after_fifteen_minutes() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(15 * 60));
    let err = verify(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::CodeExpired), "{err:?}");
    let fresh = resend(&svc, &h, "laura@example.com").await;
    verify(&svc, "laura@example.com", &fresh).await.unwrap();
}

#[tokio::test]
async fn fifth_try_may_be_right() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    for _ in 0..4 {
        assert!(matches!(verify(&svc, "laura@example.com", &wrong(&digits)).await, Err(VerifyEmailError::InvalidCode)));
    }
    verify(&svc, "laura@example.com", &digits).await.unwrap();
}

#[tokio::test]
async fn code_is_burned_after_five_wrong_tries() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    for _ in 0..5 {
        assert!(matches!(verify(&svc, "laura@example.com", &wrong(&digits)).await, Err(VerifyEmailError::InvalidCode)));
    }
    let err = verify(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::AttemptsExceeded), "{err:?}");
    let fresh = resend(&svc, &h, "laura@example.com").await;
    verify(&svc, "laura@example.com", &fresh).await.unwrap();
}

#[tokio::test]
async fn twenty_wrong_codes_a_day_across_resends() {
    let (svc, h) = service();
    let mut digits = register(&svc, &h, "laura@example.com").await;
    for round in 0..4 {
        if round > 0 {
            h.clock.advance(Duration::from_secs(61));
            digits = resend(&svc, &h, "laura@example.com").await;
        }
        for _ in 0..5 {
            let err = verify(&svc, "laura@example.com", &wrong(&digits)).await.unwrap_err();
            assert!(matches!(err, VerifyEmailError::InvalidCode), "round {round}: {err:?}");
        }
    }
    h.clock.advance(Duration::from_secs(61));
    let fresh = resend(&svc, &h, "laura@example.com").await;
    let err = verify(&svc, "laura@example.com", &fresh).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::AttemptsExceeded), "{err:?}");

    h.clock.advance(Duration::from_secs(24 * 3600));
    let fresh = resend(&svc, &h, "laura@example.com").await;
    verify(&svc, "laura@example.com", &fresh).await.unwrap();
}

#[tokio::test]
async fn sixteen_parallel_right_codes_verify_exactly_once() {
    let (svc, h) = shared_service(Policy::default());
    let digits = register(&svc, &h, "laura@example.com").await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (svc, digits) = (svc.clone(), digits.clone());
            tokio::spawn(async move { verify(&svc, "laura@example.com", &digits).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(VerifyEmailError::InvalidCode | VerifyEmailError::AttemptsExceeded) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 1);
    let verified = h.store.audit_entries().iter().filter(|e| e.action == "auth.email.verified").count();
    assert_eq!(verified, 1);
}

#[tokio::test]
async fn per_ip_limit_applies() {
    let policy = Policy { requests_per_ip_per_minute: 2, ..Policy::default() };
    let (svc, h) = portcullis_testing::test_service(policy);
    let digits = register(&svc, &h, "laura@example.com").await;
    let _ = verify(&svc, "laura@example.com", &wrong(&digits)).await;
    let err = verify(&svc, "laura@example.com", &digits).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::RateLimited { .. }), "{err:?}");
    let elsewhere = RequestContext::new(fixtures::ip("192.0.2.1"), None);
    svc.verify_email(&email("laura@example.com"), &code(&digits), &elsewhere).await.unwrap();
}

#[tokio::test]
async fn verifying_the_address_lifts_the_lockout() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    let context = ctx();
    let login = |password: &'static str| {
        let request = crate::support::login_request("laura@example.com", password, false);
        svc.login(request, &context)
    };
    for _ in 0..5 {
        assert!(login("wrong password entirely").await.is_err());
    }
    assert!(matches!(login(fixtures::PASSWORD).await, Err(portcullis_domain::LoginError::TooManyAttempts { .. })));
    verify(&svc, "laura@example.com", &digits).await.unwrap();
    login(fixtures::PASSWORD).await.unwrap();
}
