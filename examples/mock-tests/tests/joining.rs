//! Tea Club's own tests: every port of Portcullis is a fake or a mock from the test kit, so
//! they need no database, no mail server and no waiting.

use std::time::Duration;

use example_mock_tests::{Confirming, Joining, confirm, join};
use portcullis_domain::Policy;
use portcullis_domain::ports::{Change, ComposedStore, MockUserRepository, StoreError, UnitOfWork};
use portcullis_testing::fakes::{FakeMailTransport, T0};
use portcullis_testing::{fixtures, test_service, test_service_with};

const PASSWORD: &str = "correct horse battery staple";

/// Hands every queued message to the capturing mailer, as the server's worker would.
async fn deliver(
    auth: &portcullis_domain::Portcullis<impl portcullis_domain::ports::Ports>,
    mailer: &FakeMailTransport,
) {
    auth.deliver_mail(mailer, 100).await.expect("the outbox drains");
}

#[tokio::test]
async fn a_new_member_joins_with_the_code_from_their_mail() {
    let (auth, _) = test_service(Policy::default());
    let mailer = FakeMailTransport::new();
    let ctx = fixtures::request("192.0.2.10");

    assert_eq!(join(&auth, "Laura", "laura@example.com", PASSWORD, &ctx).await, Joining::CodeSent);
    deliver(&auth, &mailer).await;
    let mail = mailer.sent_to("laura@example.com");
    assert_eq!(mail.len(), 1);
    assert!(mail[0].subject.contains("verification code"), "{}", mail[0].subject);
    let code = mailer.last_code_to("laura@example.com").expect("a code in the mail");

    assert_eq!(confirm(&auth, "laura@example.com", "000000", &ctx).await, Confirming::WrongCode);
    assert_eq!(confirm(&auth, "laura@example.com", &code, &ctx).await, Confirming::Welcome);
}

#[tokio::test]
async fn a_code_typed_after_its_lifetime_asks_for_a_new_one() {
    let policy = Policy::default();
    let lifetime = policy.code_ttl;
    let (auth, kit) = test_service(policy);
    let mailer = FakeMailTransport::new();
    let ctx = fixtures::request("192.0.2.10");
    join(&auth, "Ana", "ana@example.com", PASSWORD, &ctx).await;
    deliver(&auth, &mailer).await;
    let code = mailer.last_code_to("ana@example.com").expect("a code");

    // The clock is the test's: no sleeping for fifteen minutes.
    kit.clock.advance(lifetime + Duration::from_secs(1));
    assert_eq!(confirm(&auth, "ana@example.com", &code, &ctx).await, Confirming::Expired);
}

#[tokio::test]
async fn a_form_with_a_weak_password_names_the_field_and_mails_nothing() {
    let (auth, kit) = test_service(Policy::default());
    let ctx = fixtures::request("192.0.2.10");
    let answer = join(&auth, "Ana", "ana@example.com", "password", &ctx).await;
    assert_eq!(answer, Joining::FixFields(vec!["password".to_owned()]));
    assert!(kit.store.queued_mail().is_empty());
}

#[tokio::test]
async fn an_existing_member_is_not_revealed_and_gets_a_notice_instead() {
    let (auth, kit) = test_service(Policy::default());
    // Builders make a verified member and a session without going through the use cases.
    let member = fixtures::user("laura@example.com", T0);
    let session = fixtures::session(&member, T0);
    kit.store.commit(vec![Change::InsertUser(member), Change::InsertSession(session)]).await.unwrap();
    let mailer = FakeMailTransport::new();
    let ctx = fixtures::request("192.0.2.10");

    assert_eq!(join(&auth, "Someone", "laura@example.com", PASSWORD, &ctx).await, Joining::CodeSent);
    deliver(&auth, &mailer).await;
    let notice = mailer.sent_to("laura@example.com");
    assert_eq!(notice.len(), 1);
    assert!(notice[0].subject.contains("tried to sign up"), "{}", notice[0].subject);
    assert_eq!(mailer.last_code_to("laura@example.com"), None, "no code for someone else's address");
}

#[tokio::test]
async fn an_unreachable_user_table_asks_to_try_later() {
    // One port mocked, the rest in memory.
    let mut users = MockUserRepository::new();
    users.expect_user_by_email().returning(|_| Err(StoreError::Unavailable("users table unreachable".into())));
    let (auth, _) = test_service_with(Policy::default(), |memory| ComposedStore::new(memory).users(users));
    let ctx = fixtures::request("192.0.2.10");
    assert_eq!(confirm(&auth, "laura@example.com", "123456", &ctx).await, Confirming::TryLater);
}
