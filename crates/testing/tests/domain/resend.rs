//! POST /auth/resend-verification: a new code for unverified accounts, the same answer
//! for everyone, limited per address.

use std::time::Duration;

use portcullis_domain::{ResendError, VerifyEmailError};

use crate::support::{code, ctx, email, register, seed_verified, service};

#[tokio::test]
async fn new_code_invalidates_the_old_one() {
    let (svc, h) = service();
    let old = register(&svc, &h, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(60));
    svc.resend_verification(&email("laura@example.com"), &ctx()).await.unwrap();
    let new = h.random.last_code().unwrap();
    assert_ne!(old, new);
    assert_eq!(h.store.mail_to("laura@example.com").len(), 2);
    assert_eq!(h.store.codes().len(), 1, "the old code row is gone");

    let laura = email("laura@example.com");
    let err = svc.verify_email(&laura, &code(&old), &ctx()).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::InvalidCode), "{err:?}");
    svc.verify_email(&laura, &code(&new), &ctx()).await.unwrap();
}

#[tokio::test]
async fn unknown_and_verified_addresses_get_the_same_answer_and_nothing_else() {
    let (svc, h) = service();
    seed_verified(&h, "ana@example.com").await;
    svc.resend_verification(&email("nobody@example.com"), &ctx()).await.unwrap();
    svc.resend_verification(&email("ana@example.com"), &ctx()).await.unwrap();
    assert!(h.store.queued_mail().is_empty());
    assert!(h.store.codes().is_empty());
    assert!(h.random.codes().is_empty());
}

#[tokio::test]
async fn one_per_minute() {
    let (svc, h) = service();
    register(&svc, &h, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(60)); // registration used the minute's allowance
    let laura = email("laura@example.com");
    svc.resend_verification(&laura, &ctx()).await.unwrap();
    let err = svc.resend_verification(&laura, &ctx()).await.unwrap_err();
    assert!(matches!(err, ResendError::RateLimited { retry_after } if retry_after == Duration::from_secs(60)));
    h.clock.advance(Duration::from_secs(45));
    let err = svc.resend_verification(&laura, &ctx()).await.unwrap_err();
    assert!(matches!(err, ResendError::RateLimited { retry_after } if retry_after == Duration::from_secs(15)));
    h.clock.advance(Duration::from_secs(15));
    svc.resend_verification(&laura, &ctx()).await.unwrap();
    assert_eq!(h.store.mail_to("laura@example.com").len(), 3);
}

#[tokio::test]
async fn five_per_hour() {
    let (svc, h) = service();
    register(&svc, &h, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(60)); // registration used the minute's allowance
    let laura = email("laura@example.com");
    // The registration mail was the first of the hour's five.
    for i in 0..4 {
        if i > 0 {
            h.clock.advance(Duration::from_secs(61));
        }
        svc.resend_verification(&laura, &ctx()).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(61));
    let err = svc.resend_verification(&laura, &ctx()).await.unwrap_err();
    assert!(
        matches!(err, ResendError::RateLimited { retry_after } if retry_after == Duration::from_secs(3600 - 60 - 4 * 61)),
        "{err:?}"
    );
    assert_eq!(h.store.mail_to("laura@example.com").len(), 5);
}

#[tokio::test]
async fn unknown_addresses_are_limited_alike() {
    let (svc, _h) = service();
    let nobody = email("nobody@example.com");
    svc.resend_verification(&nobody, &ctx()).await.unwrap();
    let err = svc.resend_verification(&nobody, &ctx()).await.unwrap_err();
    assert!(matches!(err, ResendError::RateLimited { .. }), "{err:?}");
}
