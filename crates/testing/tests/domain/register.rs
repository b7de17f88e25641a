//! POST /auth/register: one answer whether or not the address is known.

use std::time::Duration;

use portcullis_domain::model::{AccountStatus, RequestContext};
use portcullis_domain::{InfraError, Policy, RegisterError, RegisterUser, VerifyEmailError};
use portcullis_testing::fakes::{FastHasher, T0};
use portcullis_testing::fixtures::{self, PASSWORD};

use crate::support::{code, ctx, email, register, registration, seed, seed_verified, service, shared_service};

#[tokio::test]
async fn new_account_is_active_unverified_and_mailed_a_code() {
    let (svc, h) = service();
    let answer = svc.register(registration("  Laura@Example.com "), &ctx()).await.unwrap();
    assert_eq!(answer, email("laura@example.com"));

    let user = h.store.user_with_email("laura@example.com").expect("user stored");
    assert_eq!(user.status, AccountStatus::Active);
    assert_eq!(user.email_verified_at, None);
    assert_eq!(user.deleted_at, None);
    assert_eq!(user.name.as_str(), "Laura Boyle");
    assert_eq!((user.created_at, user.updated_at), (T0, T0));
    assert_eq!(user.password_hash, FastHasher::hash_of(PASSWORD));

    let digits = h.random.last_code().unwrap();
    let mails = h.store.mail_to("laura@example.com");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body.contains(&digits) && !mails[0].subject.contains(&digits));
    let html = mails[0].html_body.as_deref().expect("an HTML part");
    assert!(html.contains(&format!(">{digits}</p>")) && html.contains("Hello Laura Boyle,"), "{html}");
    assert_eq!(mails[0].to_name.as_deref(), Some("Laura Boyle"));
    let codes = h.store.codes();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].expires_at, T0.plus(Duration::from_secs(15 * 60)));
    assert_ne!(codes[0].digest.as_bytes(), digits.as_bytes(), "the code is stored only as a digest");

    let audit = h.store.audit_entries();
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].action.as_str(), audit[0].user_id), ("auth.user.registered", Some(user.id)));
    assert_eq!(h.hasher.hash_calls(), 1);
    svc.verify_email(&user.email, &code(&digits), &ctx()).await.unwrap();
}

#[tokio::test]
async fn existing_unverified_account_gets_a_fresh_code_and_nothing_else() {
    let (svc, h) = service();
    let old = register(&svc, &h, "laura@example.com").await;
    let before = h.store.user_with_email("laura@example.com").unwrap();
    h.clock.advance(Duration::from_secs(60)); // the registration used the minute's mail allowance

    let again = RegisterUser::parse(
        "Someone Else",
        "laura@example.com",
        "another long passphrase here",
        Policy::default().password,
    )
    .unwrap();
    assert_eq!(svc.register(again, &ctx()).await.unwrap(), email("laura@example.com"));
    let new = h.random.last_code().unwrap();
    assert_ne!(old, new);
    assert_eq!(h.store.users(), vec![before.clone()], "name and password unchanged");
    assert_eq!(h.store.mail_to("laura@example.com").len(), 2);
    assert!(h.store.mail_to("laura@example.com")[1].body.contains(&new));

    let laura = email("laura@example.com");
    let err = svc.verify_email(&laura, &code(&old), &ctx()).await.unwrap_err();
    assert!(matches!(err, VerifyEmailError::InvalidCode), "{err:?}");
    svc.verify_email(&laura, &code(&new), &ctx()).await.unwrap();
}

#[tokio::test]
async fn repeated_registrations_mail_no_more_often_than_resends() {
    let (svc, h) = service();
    register(&svc, &h, "laura@example.com").await;
    for _ in 0..3 {
        svc.register(registration("laura@example.com"), &ctx()).await.unwrap();
    }
    assert_eq!(h.store.mail_to("laura@example.com").len(), 1, "the first registration used the minute's allowance");
    h.clock.advance(Duration::from_secs(60));
    svc.register(registration("laura@example.com"), &ctx()).await.unwrap();
    assert_eq!(h.store.mail_to("laura@example.com").len(), 2);
}

#[tokio::test]
async fn existing_verified_account_gets_a_warning_and_nothing_changes() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let other =
        RegisterUser::parse("Mallory", "LAURA@example.com", "another long passphrase here", Policy::default().password)
            .unwrap();
    assert_eq!(svc.register(other, &ctx()).await.unwrap(), email("laura@example.com"));

    assert_eq!(h.store.users(), vec![laura]);
    assert!(h.store.codes().is_empty());
    assert!(h.store.audit_entries().is_empty());
    assert!(h.random.codes().is_empty());
    let mails = h.store.queued_mail();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, email("laura@example.com"));
    assert!(mails[0].subject.starts_with("Someone tried to sign up"), "{}", mails[0].subject);
    assert_eq!(h.hasher.hash_calls(), 1, "the known-address branch hashes too");
}

#[tokio::test]
async fn soft_deleted_address_gets_the_same_answer_and_no_mail() {
    let (svc, h) = service();
    let mut gone = fixtures::unverified_user("laura@example.com", T0);
    gone.deleted_at = Some(T0);
    let gone = seed(&h, gone).await;
    assert_eq!(svc.register(registration("laura@example.com"), &ctx()).await.unwrap(), email("laura@example.com"));
    assert_eq!(h.store.users(), vec![gone]);
    assert!(h.store.queued_mail().is_empty());
    assert_eq!(h.hasher.hash_calls(), 1);
}

#[tokio::test]
async fn per_ip_limit_refuses_before_hashing() {
    let policy = Policy { requests_per_ip_per_minute: 3, ..Policy::default() };
    let (svc, h) = portcullis_testing::test_service(policy);
    for i in 0..3 {
        svc.register(registration(&format!("user{i}@example.com")), &ctx()).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(20));
    let err = svc.register(registration("user3@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::RateLimited { retry_after } if retry_after == Duration::from_secs(40)));
    assert_eq!(h.hasher.hash_calls(), 3);
    assert_eq!(h.store.users().len(), 3);

    let elsewhere = RequestContext::new(fixtures::ip("192.0.2.7"), None);
    svc.register(registration("user4@example.com"), &elsewhere).await.unwrap();
    h.clock.advance(Duration::from_secs(40));
    svc.register(registration("user3@example.com"), &ctx()).await.unwrap();
}

#[tokio::test]
async fn concurrent_registrations_of_one_address_create_one_account() {
    let (svc, h) = shared_service(Policy::default());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { svc.register(registration("laura@example.com"), &ctx()).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), email("laura@example.com"));
    }
    assert_eq!(h.store.users().len(), 1);
    assert_eq!(h.hasher.hash_calls(), 8);
}

#[tokio::test]
async fn infrastructure_failures_surface_as_infra() {
    let (svc, h) = service();
    h.hasher.set_busy(true);
    let err = svc.register(registration("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::Infra(InfraError::Busy { .. })), "{err:?}");
    h.hasher.set_busy(false);
    h.store.set_unavailable(true);
    let err = svc.register(registration("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::Infra(InfraError::Unavailable(_))), "{err:?}");
    assert!(h.store.users().is_empty());
}

fn fields(name: &str, address: &str, password: &str) -> Vec<String> {
    match RegisterUser::parse(name, address, password, Policy::default().password) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn validation_collects_every_bad_field() {
    assert_eq!(fields("Laura Boyle", "laura@example.com", PASSWORD), Vec::<&str>::new());
    assert_eq!(fields("", "not-an-address", PASSWORD), ["name", "email"]);
    assert_eq!(fields(&"x".repeat(101), "laura@example.com", "short"), ["name", "password"]);
    assert_eq!(fields("Laura", &format!("{}@example.com", "a".repeat(250)), PASSWORD), ["email"]);
    assert_eq!(fields("Laura", "laura@example.com", &"x".repeat(129)), ["password"]);
}

#[test]
fn password_rules_name_the_password_field() {
    let message = |password: &str| {
        let errors = RegisterUser::parse("Laura", "laura.boyle@example.com", password, Policy::default().password)
            .expect_err("password accepted");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "password");
        errors[0].message.clone()
    };
    assert_eq!(message(" Laura.Boyle@Example.com "), "password must not be the email address");
    assert_eq!(message("1234567890123456"), "password is too common or too easy to guess");
    assert_eq!(message("passwordpassword"), "password is too common or too easy to guess");
    assert_eq!(message("fourteen chars"), "password must be at least 15 characters");
    assert!(!message("fourteen chars").contains("fourteen"), "never echoes the password");
}

#[test]
fn validation_reports_the_password_even_when_the_email_is_bad() {
    assert_eq!(fields("Laura", "not-an-address", "short"), ["email", "password"]);
}

#[tokio::test]
async fn queued_mail_debug_never_shows_the_code() {
    let (svc, h) = service();
    let digits = register(&svc, &h, "laura@example.com").await;
    let debug = format!("{:?}", h.store.queued_mail());
    assert!(!debug.contains(&digits), "{debug}");
}
