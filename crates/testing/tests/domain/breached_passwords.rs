//! The breached-password screen of new passwords (section 11): registration, reset and
//! change refuse a password the breach source lists at the policy's count, and an outage of
//! the source follows `fail_open`.

use portcullis_domain::model::Password;
use portcullis_domain::{
    BreachPolicy, ChangePasswordError, InfraError, Policy, RegisterError, RegisterUser, ResetPasswordError,
};
use portcullis_testing::fakes::{BreachSourceState, FastHasher};
use portcullis_testing::fixtures::PASSWORD;
use portcullis_testing::{TestHandles, test_service};

use crate::support::{
    NEW_PASSWORD, Service, code, ctx, email, login_ok, new_password, principal, seed_verified, stored_user,
};

const LEAKED: &str = "a password everybody knows";

/// The service screening with `min_count` and `fail_open`, and `LEAKED` listed 3 times.
fn screening(min_count: u64, fail_open: bool) -> (Service, TestHandles) {
    let policy = Policy { breach: Some(BreachPolicy { min_count, fail_open }), ..Policy::default() };
    let (svc, h) = test_service(policy);
    h.breaches.list(LEAKED, 3);
    (svc, h)
}

fn registration(password: &str) -> RegisterUser {
    RegisterUser::parse("Laura Boyle", "laura@example.com", password, Policy::default().password)
        .expect("valid registration")
}

#[tokio::test]
async fn registration_with_a_listed_password_is_refused_and_stores_nothing() {
    let (svc, h) = screening(1, true);
    let err = svc.register(registration(LEAKED), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::PasswordBreached), "{err:?}");
    assert!(h.store.users().is_empty());
    assert!(h.store.queued_mail().is_empty());
    assert_eq!(h.hasher.hash_calls(), 0, "refused before paying for a hash");
    assert_eq!(h.breaches.lookups(), 1);

    svc.register(registration(PASSWORD), &ctx()).await.expect("an unlisted password registers");
    assert_eq!(h.store.users().len(), 1);
}

#[tokio::test]
async fn a_count_below_the_minimum_passes_and_the_minimum_itself_is_refused() {
    let (svc, h) = screening(4, true);
    svc.register(registration(LEAKED), &ctx()).await.expect("3 sightings are under 4");
    assert_eq!(h.store.users().len(), 1);

    let (svc, _h) = screening(3, true);
    let err = svc.register(registration(LEAKED), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::PasswordBreached), "3 sightings reach 3: {err:?}");
}

#[tokio::test]
async fn without_a_breach_policy_nothing_is_looked_up() {
    let (svc, h) = test_service(Policy::default());
    h.breaches.list(LEAKED, 1_000);
    svc.register(registration(LEAKED), &ctx()).await.expect("no screening configured");
    assert_eq!(h.breaches.lookups(), 0, "no lookup left the process");
}

#[tokio::test]
async fn an_outage_lets_the_password_through_when_failing_open() {
    let (svc, h) = screening(1, true);
    h.breaches.set_state(BreachSourceState::TimingOut);
    svc.register(registration(LEAKED), &ctx()).await.expect("fail open");
    assert_eq!(h.store.users().len(), 1);
    assert_eq!(h.breaches.lookups(), 1);
}

#[tokio::test]
async fn an_outage_is_a_503_and_stores_nothing_when_failing_closed() {
    let (svc, h) = screening(1, false);
    h.breaches.set_state(BreachSourceState::TimingOut);
    let err = svc.register(registration(PASSWORD), &ctx()).await.unwrap_err();
    assert!(matches!(err, RegisterError::Infra(InfraError::Unavailable(_))), "{err:?}");
    assert!(h.store.users().is_empty());
    assert!(h.store.queued_mail().is_empty());
}

#[tokio::test]
async fn a_reset_to_a_listed_password_is_refused_and_the_code_still_works() {
    let (svc, h) = screening(1, true);
    let laura = seed_verified(&h, "laura@example.com").await;
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap();
    let digits = h.random.last_code().unwrap();

    let err = svc
        .reset_password(&email("laura@example.com"), &code(&digits), &new_password(LEAKED), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, ResetPasswordError::PasswordBreached), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));

    svc.reset_password(&email("laura@example.com"), &code(&digits), &new_password(NEW_PASSWORD), &ctx())
        .await
        .expect("the same code sets an unlisted password");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(NEW_PASSWORD));
}

#[tokio::test]
async fn a_reset_with_a_wrong_code_says_so_before_any_lookup() {
    let (svc, h) = screening(1, true);
    seed_verified(&h, "laura@example.com").await;
    let err = svc
        .reset_password(&email("laura@example.com"), &code("123456"), &new_password(LEAKED), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, ResetPasswordError::InvalidCode), "{err:?}");
    assert_eq!(h.breaches.lookups(), 0, "only the code's holder learns the verdict");
}

#[tokio::test]
async fn a_change_to_a_listed_password_is_refused_after_the_current_one_is_checked() {
    let (svc, h) = screening(1, true);
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;

    let wrong = svc.change_password(&me, Password::new("not my password"), &new_password(LEAKED), &ctx()).await;
    assert!(matches!(wrong, Err(ChangePasswordError::WrongPassword)), "{wrong:?}");
    assert_eq!(h.breaches.lookups(), 0, "no lookup for a caller who failed the password check");

    let err = svc.change_password(&me, Password::new(PASSWORD), &new_password(LEAKED), &ctx()).await.unwrap_err();
    assert!(matches!(err, ChangePasswordError::PasswordBreached), "{err:?}");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(PASSWORD));

    svc.change_password(&me, Password::new(PASSWORD), &new_password(NEW_PASSWORD), &ctx())
        .await
        .expect("an unlisted password is taken");
    assert_eq!(stored_user(&h, laura.id).password_hash, FastHasher::hash_of(NEW_PASSWORD));
}
