//! POST /auth/login/code and /auth/login/code/verify on fakes: a mailed code signs in
//! instead of the password, under the password's failed-attempt limit, once, and never
//! past an active second factor.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::mail_templates::SignedInWith;
use portcullis_domain::model::{
    Aal, AccountBlock, AccountStatus, AuthMethod, CodePurpose, StoredCode, TotpSecret, TotpStep, User,
};
use portcullis_domain::ports::{Change, SecretCipher, TokenIssuer, UnitOfWork};
use portcullis_domain::{
    CodeLoginRequest, LoginError, LoginOutcome, MfaVerifyError, MfaVerifyRequest, Policy, SecondFactor,
    SignInCodeRequestError,
};
use portcullis_testing::fakes::{PlainCipher, T0};
use portcullis_testing::fixtures::{self, LONDON_IP, PASSWORD, factor};
use portcullis_testing::{TestHandles, test_service};
use serde_json::json;

use crate::support::{
    Service, audits, code, ctx, ctx_from, email, failure_reasons, login_request, mail_with_subject, seed,
    seed_verified, service, stored_session,
};

const CODE_SUBJECT: &str = "Your Portcullis sign-in code";
const RESET_SUBJECT: &str = "Your Portcullis password reset code";
const ALERT_SUBJECT: &str = "New sign-in to your Portcullis account";
/// What the new-sign-in alert says about a sign-in with a mailed code.
const MAILED: &str = "with a code mailed to you";

/// The seed of the TOTP factor of [`enrol_totp`].
const SEED: [u8; 20] = *b"12345678901234567890";

/// A code of six digits that is not `right`.
fn wrong(right: &str) -> String {
    if right == "000000" { "000001".to_owned() } else { "000000".to_owned() }
}

async fn request_code(svc: &Service, address: &str) {
    svc.request_sign_in_code(&email(address), &ctx()).await.expect("a sign-in code request answers Ok");
}

/// Asks for a sign-in code for `address` and returns it.
async fn sign_in_code(svc: &Service, h: &TestHandles, address: &str) -> String {
    let issued = h.random.codes().len();
    request_code(svc, address).await;
    assert_eq!(h.random.codes().len(), issued + 1, "a code was issued");
    h.random.last_code().expect("a code")
}

async fn code_login(svc: &Service, address: &str, digits: &str, remember_me: bool) -> Result<LoginOutcome, LoginError> {
    let req = CodeLoginRequest { email: email(address), code: code(digits), remember_me };
    svc.login_with_code(req, &ctx()).await
}

async fn password_login(svc: &Service, address: &str, password: &str) -> Result<(), LoginError> {
    svc.login(login_request(address, password, false), &ctx()).await.map(|_| ())
}

/// Every stored sign-in code, consumed ones included.
fn sign_in_codes(h: &TestHandles) -> Vec<StoredCode> {
    h.store.codes().into_iter().filter(|c| c.purpose == CodePurpose::SignIn).collect()
}

/// An active TOTP factor of `user`, confirmed at the step of `T0` (so that step is spent).
async fn enrol_totp(h: &TestHandles, user: &User) {
    let mut f = factor(user, T0);
    f.secret = PlainCipher.seal(&f.id.to_string(), &SEED).expect("sealed");
    h.store
        .commit(vec![
            Change::InsertFactor(f.clone()),
            Change::ConfirmFactor { factor_id: f.id, step: TotpStep::at(T0), at: T0 },
        ])
        .await
        .expect("enrolled");
}

/// The TOTP code of the service clock's step.
fn totp_now(svc: &Service) -> String {
    TotpSecret::from_bytes(SEED.to_vec()).expect("20 bytes").code_at(TotpStep::at(svc.now()))
}

#[tokio::test]
async fn requesting_a_code_mails_six_digits_and_audits_the_request() {
    let (svc, h) = test_service(Policy { product_name: "Acme".to_owned(), ..Policy::default() });
    let laura = seed_verified(&h, "laura@example.com").await;
    let now = h.clock.advance(Duration::from_secs(5));
    let digits = sign_in_code(&svc, &h, "Laura@Example.com").await;

    let codes = h.store.codes();
    assert_eq!(codes.len(), 1);
    assert_eq!((codes[0].user_id, codes[0].purpose), (laura.id, CodePurpose::SignIn));
    assert_eq!((codes[0].expires_at, codes[0].attempts), (now.plus(Duration::from_secs(15 * 60)), 0));
    assert_ne!(codes[0].digest.as_bytes(), digits.as_bytes(), "only a digest is stored");
    assert_eq!(h.store.queued_mail().len(), 1);
    let mails = mail_with_subject(&h, "laura@example.com", "Your Acme sign-in code");
    assert_eq!(mails.len(), 1, "the subject names the policy's product");
    assert!(mails[0].body.contains(&digits) && mails[0].body.contains("15 minutes"), "{}", mails[0].body);
    assert!(!mails[0].subject.contains(&digits), "subjects never hold a code");
    let entries = audits(&h, "auth.login.code_requested");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
    assert_eq!(h.store.audit_entries().len(), 1, "nothing else is audited");
    assert!(h.store.sessions().is_empty(), "a request signs nobody in");
}

#[tokio::test]
async fn unknown_and_deleted_addresses_get_the_same_answers_and_no_code() {
    let (svc, h) = service();
    let mut gone = fixtures::user("gone@example.com", T0);
    gone.deleted_at = Some(T0);
    seed(&h, gone).await;
    for address in ["nobody@example.com", "gone@example.com"] {
        request_code(&svc, address).await;
        assert_eq!(h.store.rate_events(&format!("sign-in-mail:{address}")), 1, "limited like an account's address");
        let err = code_login(&svc, address, "123456", false).await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{address}: {err:?}");
        assert_eq!(h.store.rate_events(&format!("login:{address}")), 1, "{address}: counted like a wrong code");
    }
    assert!(h.random.codes().is_empty(), "no code was even drawn");
    assert!(h.store.codes().is_empty());
    assert!(h.store.queued_mail().is_empty());
    // A failed attempt on an existing account is audited, deleted or not, as at password login.
    let entries = h.store.audit_entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        serde_json::Value::Object(entries[0].metadata.clone()),
        json!({"reason": "invalid_code", "method": "email_code"})
    );
    assert!(h.store.sessions().is_empty());
}

#[tokio::test]
async fn a_code_mailed_before_the_account_was_deleted_answers_account_deleted() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    assert!(h.store.modify_user(laura.id, |u| u.deleted_at = Some(T0)));
    let err = code_login(&svc, "laura@example.com", &digits, false).await.unwrap_err();
    assert!(matches!(err, LoginError::Blocked(AccountBlock::Deleted)), "{err:?}");
    assert_eq!(failure_reasons(&h), vec!["account_deleted"]);
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "a right code is no failure");
    assert!(h.store.sessions().is_empty());
}

#[tokio::test]
async fn past_the_address_mail_limit_nothing_is_sent_and_a_new_code_replaces_the_old() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let first = sign_in_code(&svc, &h, "laura@example.com").await;
    // Counted apart from the other mails: a reset code still goes out at once.
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap();
    assert_eq!(mail_with_subject(&h, "laura@example.com", RESET_SUBJECT).len(), 1);

    h.clock.advance(Duration::from_secs(59));
    let issued = h.random.codes().len();
    request_code(&svc, "laura@example.com").await;
    assert_eq!(h.random.codes().len(), issued, "no second code");
    assert_eq!(mail_with_subject(&h, "laura@example.com", CODE_SUBJECT).len(), 1);
    assert_eq!(audits(&h, "auth.login.code_requested").len(), 1);
    assert_eq!(h.store.rate_events("sign-in-mail:laura@example.com"), 1);

    h.clock.advance(Duration::from_secs(1));
    let second = sign_in_code(&svc, &h, "laura@example.com").await;
    assert_ne!(first, second);
    assert_eq!(mail_with_subject(&h, "laura@example.com", CODE_SUBJECT).len(), 2);
    assert_eq!(sign_in_codes(&h).len(), 1, "the older code row is gone");
    let err = code_login(&svc, "laura@example.com", &first, false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    code_login(&svc, "laura@example.com", &second, false).await.expect("the newest code works");
}

#[tokio::test]
async fn the_per_ip_limit_applies_to_both_steps() {
    let (svc, h) = test_service(Policy { requests_per_ip_per_minute: 1, ..Policy::default() });
    seed_verified(&h, "laura@example.com").await;
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    let err = svc.request_sign_in_code(&email("laura@example.com"), &ctx()).await.unwrap_err();
    assert!(
        matches!(err, SignInCodeRequestError::RateLimited { retry_after } if retry_after == Duration::from_secs(60)),
        "{err:?}"
    );
    let err = code_login(&svc, "laura@example.com", &digits, false).await.unwrap_err();
    assert!(matches!(err, LoginError::RateLimited { .. }), "{err:?}");
    assert_eq!(sign_in_codes(&h)[0].attempts, 0, "a limited call tries no code");
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "nor takes a login slot");
    let req = CodeLoginRequest { email: email("laura@example.com"), code: code(&digits), remember_me: false };
    svc.login_with_code(req, &ctx_from("192.0.2.3")).await.expect("another IP has its own allowance");
}

#[tokio::test]
async fn a_right_code_signs_in_at_aal_1_with_amr_email_and_alerts_the_owner() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    // Two wrong passwords first: the code's success lifts them, as a password's would.
    for _ in 0..2 {
        let err = password_login(&svc, "laura@example.com", "wrong password").await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    let now = h.clock.advance(Duration::from_secs(30));
    let out = code_login(&svc, "laura@example.com", &digits, false).await.unwrap();

    assert_eq!(out.user.id, laura.id);
    let claims = h.tokens.verify(&out.access_token, now).unwrap();
    assert_eq!((claims.session_id, claims.aal), (out.session_id, Aal::One));
    assert_eq!(claims.amr, vec![AuthMethod::EmailCode]);
    let session = stored_session(&h, out.session_id);
    assert_eq!((session.aal, session.amr.clone(), session.remember_me), (Aal::One, vec![AuthMethod::EmailCode], false));
    assert_eq!(session.expires_at, now.plus(Duration::from_secs(24 * 3600)));
    assert_eq!(AuthMethod::EmailCode.as_str(), "email");
    let principal = svc.authenticate(&out.access_token).await.unwrap();
    assert_eq!(principal.signed_in_with(), SignedInWith::EmailCode);

    let success = audits(&h, "auth.login.success");
    assert_eq!(success.len(), 1);
    assert_eq!(success[0].user_id, Some(laura.id));
    assert_eq!(
        serde_json::Value::Object(success[0].metadata.clone()),
        json!({"method": "email_code", "remember_me": false})
    );
    let notes = h.store.notifications();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].kind.as_str(), notes[0].user_id), ("security.new_sign_in", laura.id));
    assert!(notes[0].body.contains(MAILED), "{}", notes[0].body);
    let alerts = mail_with_subject(&h, "laura@example.com", ALERT_SUBJECT);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].body.contains(MAILED), "{}", alerts[0].body);

    assert_eq!(sign_in_codes(&h)[0].consumed_at, Some(now));
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "the password's failures are lifted");
}

#[tokio::test]
async fn a_code_works_once_and_only_for_signing_in() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap();
    let reset_digits = h.random.last_code().expect("a reset code");
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;

    let err = code_login(&svc, "laura@example.com", &reset_digits, false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "a reset code: {err:?}");
    code_login(&svc, "laura@example.com", &digits, false).await.unwrap();
    let err = code_login(&svc, "laura@example.com", &digits, false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "a used code: {err:?}");

    assert_eq!(h.store.sessions().len(), 1);
    assert_eq!(failure_reasons(&h), vec!["invalid_code"; 2]);
    let reset = h.store.codes().into_iter().find(|c| c.purpose == CodePurpose::ResetPassword).expect("a reset code");
    assert_eq!((reset.attempts, reset.consumed_at), (0, None), "the reset code is untouched");
}

#[tokio::test]
async fn a_wrong_code_is_a_failed_login_audited_with_its_method() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    let err = code_login(&svc, "laura@example.com", &wrong(&digits), false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");

    let entry = audits(&h, "auth.login.failure").pop().expect("an audited failure");
    assert_eq!(entry.user_id, Some(laura.id));
    assert_eq!(serde_json::Value::Object(entry.metadata), json!({"reason": "invalid_code", "method": "email_code"}));
    assert_eq!(entry.ip_address, Some(fixtures::ip(LONDON_IP)));
    assert_eq!(h.store.rate_events("login:laura@example.com"), 1, "counted under the password's key");
    assert_eq!(sign_in_codes(&h)[0].attempts, 1);
    assert!(h.store.sessions().is_empty() && h.store.notifications().is_empty());

    code_login(&svc, "laura@example.com", &digits, false).await.expect("a later right try still works");
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "and lifts the failure");
}

#[tokio::test]
async fn wrong_codes_lock_out_the_password_too() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let limit = usize::try_from(svc.policy().login_failures_per_account).unwrap();
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    for _ in 0..limit {
        let err = code_login(&svc, "laura@example.com", &wrong(&digits), false).await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    let err = password_login(&svc, "laura@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::TooManyAttempts { .. }), "{err:?}");
    assert_eq!(h.hasher.verify_calls(), 0, "no password was checked");
    // Nor is any code checked now, not even a fresh right one.
    h.clock.advance(Duration::from_secs(60));
    let fresh = sign_in_code(&svc, &h, "laura@example.com").await;
    let err = code_login(&svc, "laura@example.com", &fresh, false).await.unwrap_err();
    assert!(matches!(err, LoginError::TooManyAttempts { .. }), "{err:?}");
    assert_eq!(sign_in_codes(&h)[0].attempts, 0, "the fresh code was not tried");
    assert!(h.store.sessions().is_empty());

    let mut reasons = vec!["invalid_code"; limit];
    reasons.extend(["too_many_attempts"; 2]);
    assert_eq!(failure_reasons(&h), reasons);
    let failures = audits(&h, "auth.login.failure");
    assert_eq!(serde_json::Value::Object(failures[limit].metadata.clone()), json!({"reason": "too_many_attempts"}));
    assert_eq!(
        serde_json::Value::Object(failures[limit + 1].metadata.clone()),
        json!({"reason": "too_many_attempts", "method": "email_code"})
    );
}

#[tokio::test]
async fn wrong_passwords_lock_out_the_code_too() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..svc.policy().login_failures_per_account {
        let err = password_login(&svc, "laura@example.com", "wrong password").await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    h.clock.set(T0.plus(Duration::from_secs(20 * 60)));
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    let err = code_login(&svc, "laura@example.com", &digits, false).await.unwrap_err();
    assert!(
        matches!(err, LoginError::TooManyAttempts { retry_after } if retry_after == Duration::from_secs(10 * 60)),
        "{err:?}"
    );
    let entry = audits(&h, "auth.login.failure").pop().expect("an audited failure");
    assert_eq!(
        serde_json::Value::Object(entry.metadata),
        json!({"reason": "too_many_attempts", "method": "email_code"})
    );
    assert_eq!(sign_in_codes(&h)[0].attempts, 0, "no code was checked");
    assert!(h.store.sessions().is_empty());
    // Once the failures leave the window, the same code signs in.
    h.clock.set(T0.plus(Duration::from_secs(30 * 60)));
    code_login(&svc, "laura@example.com", &digits, false).await.expect("the lockout has lifted");
}

#[tokio::test]
async fn after_its_tries_even_the_right_code_fails() {
    // Fewer tries than the address's failures, so the code burns before the lockout.
    let (svc, h) = test_service(Policy { code_max_attempts: 3, ..Policy::default() });
    seed_verified(&h, "laura@example.com").await;
    let tries = svc.policy().code_max_attempts;
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    for _ in 0..tries {
        let err = code_login(&svc, "laura@example.com", &wrong(&digits), false).await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    assert_eq!(sign_in_codes(&h)[0].attempts, tries);
    let err = code_login(&svc, "laura@example.com", &digits, false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "a burned code: {err:?}");
    assert!(h.store.sessions().is_empty());
    assert_eq!(failure_reasons(&h).len(), usize::try_from(tries).unwrap() + 1);

    h.clock.advance(Duration::from_secs(60));
    let fresh = sign_in_code(&svc, &h, "laura@example.com").await;
    code_login(&svc, "laura@example.com", &fresh, false).await.expect("a new code has its own tries");
}

#[tokio::test]
async fn a_code_expires_after_its_lifetime() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let ttl = svc.policy().code_ttl;
    let first = sign_in_code(&svc, &h, "laura@example.com").await;
    h.clock.advance(ttl);
    let err = code_login(&svc, "laura@example.com", &first, false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    assert_eq!(failure_reasons(&h), vec!["invalid_code"]);
    assert!(h.store.sessions().is_empty());

    let second = sign_in_code(&svc, &h, "laura@example.com").await;
    h.clock.advance(ttl - Duration::from_millis(1));
    code_login(&svc, "laura@example.com", &second, false).await.expect("still fresh a moment before it expires");
}

#[tokio::test]
async fn a_right_code_on_a_blocked_account_is_refused_and_stays_valid() {
    let (svc, h) = service();
    let mut suspended = fixtures::user("suspended@example.com", T0);
    suspended.status = AccountStatus::Suspended;
    let mut deactivated = fixtures::user("deactivated@example.com", T0);
    deactivated.status = AccountStatus::Deactivated;
    let unverified = fixtures::unverified_user("unverified@example.com", T0);
    let cases = [
        (suspended, AccountBlock::Suspended, "account_suspended"),
        (deactivated, AccountBlock::Deactivated, "account_deactivated"),
        (unverified, AccountBlock::NotVerified, "email_not_verified"),
    ];
    for (user, block, reason) in cases {
        let address = user.email.as_str().to_owned();
        let user = seed(&h, user).await;
        let digits = sign_in_code(&svc, &h, &address).await;
        let err = code_login(&svc, &address, &digits, false).await.unwrap_err();
        assert!(matches!(err, LoginError::Blocked(b) if b == block), "{address}: {err:?}");

        let entry = audits(&h, "auth.login.failure").pop().expect("an audited refusal");
        assert_eq!(entry.user_id, Some(user.id));
        assert_eq!(serde_json::Value::Object(entry.metadata), json!({"reason": reason, "method": "email_code"}));
        assert_eq!(h.store.rate_events(&format!("login:{address}")), 0, "{address}: a right code is no failure");
        let stored = sign_in_codes(&h).into_iter().find(|c| c.user_id == user.id).expect("the account's code");
        assert_eq!(stored.consumed_at, None, "{address}: the code is not spent");
        assert!(h.store.sessions().iter().all(|s| s.user_id != user.id), "{address}");

        // Once the account may sign in, the same code does it.
        assert!(h.store.modify_user(user.id, |u| {
            u.status = AccountStatus::Active;
            u.email_verified_at = Some(T0);
        }));
        let out = code_login(&svc, &address, &digits, false).await.unwrap_or_else(|e| panic!("{address}: {e:?}"));
        assert_eq!(out.user.id, user.id);
    }
}

#[tokio::test]
async fn an_account_with_a_second_factor_gets_a_challenge_and_totp_finishes_at_aal_2() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol_totp(&h, &laura).await;
    // Past the step that confirmed the factor, so the current TOTP code is fresh.
    let now = h.clock.advance(Duration::from_secs(30));
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    let challenge = match code_login(&svc, "laura@example.com", &digits, true).await {
        Err(LoginError::MfaRequired(challenge)) => challenge,
        other => panic!("expected MFA_REQUIRED, got {other:?}"),
    };
    assert_eq!(challenge.factors, vec![SecondFactor::Totp]);
    assert!(h.store.sessions().is_empty(), "no session before the second factor");
    assert!(h.store.notifications().is_empty());
    assert!(audits(&h, "auth.login.success").is_empty());
    assert!(mail_with_subject(&h, "laura@example.com", ALERT_SUBJECT).is_empty());
    assert_eq!(sign_in_codes(&h)[0].consumed_at, Some(now), "the mailed code is spent by the challenge");
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "the code counted as a success");

    let req = MfaVerifyRequest {
        mfa_token: challenge.mfa_token.clone(),
        factor: SecondFactor::Totp,
        code: totp_now(&svc),
        credential: None,
    };
    let out = svc.verify_mfa(req, &ctx()).await.expect("the factor finishes the sign-in");
    let session = stored_session(&h, out.session_id);
    assert_eq!((session.aal, session.amr.clone()), (Aal::Two, vec![AuthMethod::EmailCode, AuthMethod::Totp]));
    assert!(session.remember_me, "the first step's remember-me survives the second");
    let success = audits(&h, "auth.login.success");
    assert_eq!(success.len(), 1);
    assert_eq!(
        serde_json::Value::Object(success[0].metadata.clone()),
        json!({"method": "email_code", "remember_me": true, "mfa": "totp"})
    );
    let notes = h.store.notifications();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].body.contains(MAILED), "{}", notes[0].body);

    // The mailed code earned one challenge: it does not earn another.
    let err = code_login(&svc, "laura@example.com", &digits, false).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
}

#[tokio::test]
async fn parallel_uses_of_one_right_code_give_one_session_and_count_no_failure() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    let policy = svc.policy();
    // As many at once as the code has tries and the address has room: the in-memory store
    // yields at every call, so `join_all` interleaves them step by step and all of them
    // check the code before any commits.
    let n = usize::try_from(policy.code_max_attempts.min(policy.login_failures_per_account)).unwrap();
    assert!(n >= 2, "a race needs two");
    let (svc_ref, digits_ref) = (&svc, digits.as_str());
    let results = join_all((0..n).map(move |_| code_login(svc_ref, "laura@example.com", digits_ref, false))).await;

    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(LoginError::InvalidCredentials))), "{results:?}");
    assert_eq!(h.store.sessions().len(), 1);
    assert_eq!(audits(&h, "auth.login.success").len(), 1);
    assert_eq!(failure_reasons(&h), Vec::<String>::new(), "no loser was audited as a failure");
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "no loser was counted, no reservation is left");
    // And the address is not one step closer to a lockout: the password keeps all its tries.
    for _ in 1..policy.login_failures_per_account {
        let err = password_login(&svc, "laura@example.com", "wrong password").await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    password_login(&svc, "laura@example.com", PASSWORD).await.expect("the password still signs in");
}

#[tokio::test]
async fn wrong_codes_are_capped_per_day_apart_from_the_lockout() {
    let policy = Policy { code_failures_per_day: 3, login_failures_per_account: 100, ..Policy::default() };
    let (svc, h) = test_service(policy);
    seed_verified(&h, "laura@example.com").await;
    let digits = sign_in_code(&svc, &h, "laura@example.com").await;
    for _ in 0..3 {
        let err = code_login(&svc, "laura@example.com", &wrong(&digits), false).await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    }
    // A fresh code does not reset the day's count, and even the right one is not tried.
    h.clock.advance(Duration::from_secs(61));
    let fresh = sign_in_code(&svc, &h, "laura@example.com").await;
    let err = code_login(&svc, "laura@example.com", &fresh, false).await.unwrap_err();
    assert!(matches!(err, LoginError::TooManyAttempts { .. }), "{err:?}");
    let stored = sign_in_codes(&h).into_iter().find(|c| c.consumed_at.is_none()).expect("the fresh code");
    assert_eq!(stored.attempts, 0, "not tried");
    assert_eq!(failure_reasons(&h).last().map(String::as_str), Some("too_many_attempts"));
    // The password still signs in: the cap is on codes only.
    password_login(&svc, "laura@example.com", PASSWORD).await.expect("the password works");
}

#[tokio::test]
async fn a_second_step_locked_after_mailed_codes_tells_the_owner_to_secure_the_mailbox() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol_totp(&h, &laura).await;
    // Two mailed codes, each earning a challenge that burns after five wrong TOTP codes:
    // ten wrong codes, the account's limit.
    for _ in 0..2 {
        h.clock.advance(Duration::from_secs(61));
        let digits = sign_in_code(&svc, &h, "laura@example.com").await;
        let challenge = match code_login(&svc, "laura@example.com", &digits, false).await {
            Err(LoginError::MfaRequired(challenge)) => challenge,
            other => panic!("expected MFA_REQUIRED, got {other:?}"),
        };
        for _ in 0..5 {
            let req = MfaVerifyRequest {
                mfa_token: challenge.mfa_token.clone(),
                factor: SecondFactor::Totp,
                code: wrong(&totp_now(&svc)),
                credential: None,
            };
            let err = svc.verify_mfa(req, &ctx()).await;
            assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "{err:?}");
        }
    }
    let notice =
        mail_with_subject(&h, "laura@example.com", "A Portcullis sign-in code was used, but the second step failed");
    assert_eq!(notice.len(), 1, "one notice, naming the mailed code");
    assert!(notice[0].body.contains("secure your mailbox"), "{}", notice[0].body);
    assert!(!notice[0].body.contains("knows your password"), "nobody typed it: {}", notice[0].body);
    let wrong_notice = "Your Portcullis password was used, but the second step failed";
    assert!(mail_with_subject(&h, "laura@example.com", wrong_notice).is_empty());
}
