//! The second step of a sign-in on fakes: challenge instead of session, replay, races, the
//! two limits, recovery codes, and what a finished sign-in writes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{
    Aal, AuthMethod, Factor, FactorKind, FactorName, RECOVERY_CODE_PURPOSE, RecoveryCode, TotpSecret, TotpStep, User,
};
use portcullis_domain::ports::{Change, Clock, SecretCipher, SecretHasher, UnitOfWork};

use portcullis_domain::{
    LoginError, LoginOutcome, MfaChallenge, MfaVerifyError, MfaVerifyRequest, Policy, SecondFactor,
};
use portcullis_testing::TestHandles;
use portcullis_testing::fakes::{PlainCipher, T0};
use portcullis_testing::fixtures::{PASSWORD, factor};

use crate::support::{Service, audits, ctx, login_request, mail_with_subject, seed_verified, service, shared_service};

/// The seed of every factor here.
const SEED: [u8; 20] = *b"12345678901234567890";

/// An active TOTP factor of `user`, confirmed at the step of `T0` (so that step is spent),
/// and ten recovery codes; returns the factor and the codes as typed.
async fn enrol(h: &TestHandles, user: &User) -> (Factor, Vec<String>) {
    let mut f = factor(user, T0);
    f.name = FactorName::parse("Phone").expect("name");
    f.secret = PlainCipher.seal(&f.id.to_string(), &SEED).expect("sealed");
    assert_eq!(f.kind, FactorKind::Totp);
    let codes: Vec<RecoveryCode> = (0..10u8).map(|n| RecoveryCode::from_random([n; 8])).collect();
    let digests = codes.iter().map(|c| h.secrets.digest(RECOVERY_CODE_PURPOSE, c.expose())).collect();
    h.store
        .commit(vec![
            Change::InsertFactor(f.clone()),
            Change::ConfirmFactor { factor_id: f.id, step: TotpStep::at(T0), at: T0 },
            Change::ReplaceRecoveryCodes { user_id: user.id, digests, at: T0 },
        ])
        .await
        .expect("enrolled");
    (f, codes.iter().map(|c| c.display().to_string()).collect())
}

fn totp() -> TotpSecret {
    TotpSecret::from_bytes(SEED.to_vec()).expect("20 bytes")
}

/// The code of the step `offset` steps from the clock's.
fn code_at(h: &TestHandles, offset: i64) -> String {
    let step = TotpStep::at(h.clock.now()).0.checked_add_signed(offset).expect("a step after the epoch");
    totp().code_at(TotpStep(step))
}

async fn challenge(svc: &Service, address: &str) -> MfaChallenge {
    match svc.login(login_request(address, PASSWORD, false), &ctx()).await {
        Err(LoginError::MfaRequired(challenge)) => challenge,
        other => panic!("expected MFA_REQUIRED, got {other:?}"),
    }
}

async fn verify(svc: &Service, token: &str, factor: SecondFactor, code: &str) -> Result<LoginOutcome, MfaVerifyError> {
    let req = MfaVerifyRequest { mfa_token: token.to_owned(), factor, code: code.to_owned(), credential: None };
    svc.verify_mfa(req, &ctx()).await
}

/// A state where the step of `T0` is spent: move past it so the current code is fresh.
fn next_step(h: &TestHandles) {
    h.clock.advance(Duration::from_secs(30));
}

#[tokio::test]
async fn a_right_password_earns_a_challenge_and_nothing_else() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    // A wrong password first: the right one lifts its count, as a login would.
    assert!(svc.login(login_request("laura@example.com", "wrong", false), &ctx()).await.is_err());

    let ch = challenge(&svc, "laura@example.com").await;
    assert_eq!(ch.factors, vec![SecondFactor::Totp, SecondFactor::RecoveryCode]);
    assert_eq!(ch.expires_in, Duration::from_secs(300));
    assert!(h.store.sessions().is_empty(), "no session before the second factor");
    assert!(audits(&h, "auth.login.success").is_empty());
    assert!(mail_with_subject(&h, "laura@example.com", "New sign-in to your Portcullis account").is_empty());
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0, "the password counted as a success");
    assert!(!format!("{ch:?}").contains(&ch.mfa_token));
}

#[tokio::test]
async fn a_pending_factor_does_not_ask_for_a_code() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    h.store.commit(vec![Change::InsertFactor(factor(&laura, T0))]).await.unwrap();
    assert!(svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.is_ok());
}

#[tokio::test]
async fn a_totp_code_finishes_the_sign_in_at_aal_2() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let (f, _) = enrol(&h, &laura).await;
    next_step(&h);
    let ch = challenge(&svc, "laura@example.com").await;
    let out = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await.unwrap();

    let session = h.store.sessions().pop().unwrap();
    assert_eq!(session.id, out.session_id);
    assert_eq!((session.aal, session.amr), (Aal::Two, vec![AuthMethod::Password, AuthMethod::Totp]));
    assert!(!session.remember_me);
    let success = audits(&h, "auth.login.success");
    assert_eq!(success.len(), 1);
    assert_eq!(success[0].metadata["mfa"], "totp");
    assert_eq!(mail_with_subject(&h, "laura@example.com", "New sign-in to your Portcullis account").len(), 1);
    let stored = h.store.factors().into_iter().find(|s| s.id == f.id).unwrap();
    assert_eq!((stored.last_used_step, stored.last_used_at), (Some(TotpStep::at(h.clock.now())), Some(h.clock.now())));
    // The token worked once.
    let again = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await;
    assert!(matches!(again, Err(MfaVerifyError::UnknownChallenge)), "{again:?}");
}

#[tokio::test]
async fn remember_me_survives_the_second_step() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    next_step(&h);
    let Err(LoginError::MfaRequired(ch)) = svc.login(login_request("laura@example.com", PASSWORD, true), &ctx()).await
    else {
        panic!("expected a challenge")
    };
    // The flag is part of the digested token: flipped, the token is unknown.
    let flipped = format!("{}.0", ch.mfa_token.strip_suffix(".1").expect("a remembered sign-in's token"));
    let err = verify(&svc, &flipped, SecondFactor::Totp, &code_at(&h, 0)).await;
    assert!(matches!(err, Err(MfaVerifyError::UnknownChallenge)), "{err:?}");
    verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await.unwrap();
    assert!(h.store.sessions().pop().unwrap().remember_me);
}

#[tokio::test]
async fn the_confirming_code_and_a_used_code_never_sign_in() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    // Still in the step that confirmed the factor.
    let ch = challenge(&svc, "laura@example.com").await;
    let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await;
    assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "{err:?}");

    next_step(&h);
    verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await.unwrap();
    // The same code on a new sign-in, and the previous step's code (within drift): refused.
    for offset in [0, -1] {
        let ch = challenge(&svc, "laura@example.com").await;
        let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, offset)).await;
        assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "offset {offset}: {err:?}");
    }
    let failures = audits(&h, "auth.login.failure");
    assert_eq!(failures.len(), 3);
    assert!(failures.iter().all(|e| e.metadata["reason"] == "invalid_mfa_code"));
}

#[tokio::test]
async fn one_step_of_drift_either_way_and_no_more() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    h.clock.advance(Duration::from_secs(30 * 10));
    for offset in [-2, 2] {
        let ch = challenge(&svc, "laura@example.com").await;
        let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, offset)).await;
        assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "offset {offset}: {err:?}");
    }
    // A clock one step behind, then one step ahead (a later step after an earlier one).
    for offset in [-1, 1] {
        let ch = challenge(&svc, "laura@example.com").await;
        assert!(verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, offset)).await.is_ok(), "{offset}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_uses_of_one_code_give_one_session() {
    let (svc, h) = shared_service(Policy::default());
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    next_step(&h);
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(challenge(&svc, "laura@example.com").await.mfa_token);
    }
    let code = code_at(&h, 0);
    let results = join_all(tokens.iter().map(|token| {
        let (svc, token, code) = (Arc::clone(&svc), token.clone(), code.clone());
        tokio::spawn(async move { verify(&svc, &token, SecondFactor::Totp, &code).await })
    }))
    .await;
    let results: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    // The losers: a used code (a replay counts as a wrong code, so enough of them reach the
    // account's limit), never an error.
    let refused = |r: &Result<_, _>| {
        matches!(r, Ok(_) | Err(MfaVerifyError::InvalidCode | MfaVerifyError::TooManyAttempts { .. }))
    };
    assert!(results.iter().all(refused), "{results:?}");
    assert_eq!(h.store.sessions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_uses_of_one_recovery_code_give_one_session() {
    let (svc, h) = shared_service(Policy::default());
    let laura = seed_verified(&h, "laura@example.com").await;
    let (_, codes) = enrol(&h, &laura).await;
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(challenge(&svc, "laura@example.com").await.mfa_token);
    }
    let results = join_all(tokens.iter().map(|token| {
        let (svc, token, code) = (Arc::clone(&svc), token.clone(), codes[3].clone());
        tokio::spawn(async move { verify(&svc, &token, SecondFactor::RecoveryCode, &code).await })
    }))
    .await;
    let results: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(h.store.sessions().len(), 1);
    assert_eq!(h.store.recovery_codes_of(laura.id).iter().filter(|c| c.used_at.is_none()).count(), 9);
}

#[tokio::test]
async fn a_recovery_code_works_once_and_the_mail_says_how_many_are_left() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let (_, codes) = enrol(&h, &laura).await;
    let ch = challenge(&svc, "laura@example.com").await;
    // Typed loosely: upper case, spaces instead of dashes.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let out = verify(&svc, &ch.mfa_token, SecondFactor::RecoveryCode, &typed).await.unwrap();
    let session = h.store.sessions().pop().unwrap();
    assert_eq!((session.id, session.aal), (out.session_id, Aal::Two));
    assert_eq!(session.amr, vec![AuthMethod::Password, AuthMethod::RecoveryCode]);
    assert_eq!(audits(&h, "auth.login.success")[0].metadata["mfa"], "recovery_code");
    let notice = mail_with_subject(&h, "laura@example.com", "A recovery code was used to sign in to Portcullis");
    assert_eq!(notice.len(), 1);
    assert!(notice[0].body.contains("9 of them are left"), "{}", notice[0].body);
    assert!(!notice[0].body.contains(&codes[0]), "the mail never carries a code");

    let ch = challenge(&svc, "laura@example.com").await;
    assert_eq!(ch.factors, vec![SecondFactor::Totp, SecondFactor::RecoveryCode]);
    let err = verify(&svc, &ch.mfa_token, SecondFactor::RecoveryCode, &codes[0]).await;
    assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "{err:?}");
    // A TOTP code is not a recovery code, nor the other way round.
    let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &codes[1]).await;
    assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "{err:?}");
}

#[tokio::test]
async fn five_wrong_codes_burn_the_token() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    next_step(&h);
    let ch = challenge(&svc, "laura@example.com").await;
    for _ in 0..5 {
        let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, "000000").await;
        assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "{err:?}");
    }
    let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await;
    assert!(matches!(err, Err(MfaVerifyError::ChallengeBurned)), "{err:?}");
    // A new password sign-in gets a new token, which works.
    let ch = challenge(&svc, "laura@example.com").await;
    assert!(verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await.is_ok());
}

#[tokio::test]
async fn ten_wrong_codes_lock_the_second_step_only_and_mail_the_owner_once() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    next_step(&h);
    for round in 0..10 {
        let ch = if round % 4 == 0 { Some(challenge(&svc, "laura@example.com").await) } else { None };
        let token = ch.map(|c| c.mfa_token).unwrap_or_else(|| h.random.tokens().last().unwrap().clone() + ".0");
        let err = verify(&svc, &token, SecondFactor::Totp, "000000").await;
        assert!(matches!(err, Err(MfaVerifyError::InvalidCode)), "round {round}: {err:?}");
    }
    let subject = "Your Portcullis password was used, but the second step failed";
    assert_eq!(mail_with_subject(&h, "laura@example.com", subject).len(), 1);
    // The password still works (its own counter), but no code is checked now, right or not.
    let ch = challenge(&svc, "laura@example.com").await;
    let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await;
    let Err(MfaVerifyError::TooManyAttempts { retry_after }) = err else { panic!("{err:?}") };
    assert!(retry_after > Duration::from_secs(25 * 60), "{retry_after:?}");
    assert_eq!(mail_with_subject(&h, "laura@example.com", subject).len(), 1, "one mail per lockout");
    // It expires by itself.
    h.clock.advance(Duration::from_secs(30 * 60));
    let ch = challenge(&svc, "laura@example.com").await;
    assert!(verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await.is_ok());
}

#[tokio::test]
async fn unknown_malformed_and_expired_tokens_are_refused() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    enrol(&h, &laura).await;
    next_step(&h);
    let ch = challenge(&svc, "laura@example.com").await;
    let unknown = format!("{}.0", "x".repeat(43));
    for token in ["", "not a token", unknown.as_str()] {
        let err = verify(&svc, token, SecondFactor::Totp, &code_at(&h, 0)).await;
        assert!(matches!(err, Err(MfaVerifyError::UnknownChallenge)), "{token:?}: {err:?}");
    }
    h.clock.advance(Duration::from_secs(300));
    let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await;
    assert!(matches!(err, Err(MfaVerifyError::UnknownChallenge)), "{err:?}");
}

#[tokio::test]
async fn a_seed_that_does_not_open_is_an_error_not_a_wrong_code() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let (f, _) = enrol(&h, &laura).await;
    next_step(&h);
    let ch = challenge(&svc, "laura@example.com").await;
    // The seed sealed for another factor (a row copied by hand).
    let mut copied = factor(&laura, T0);
    copied.secret = f.secret.clone();
    h.store.commit(vec![Change::DeleteUserFactors { user_id: laura.id }]).await.unwrap();
    h.store
        .commit(vec![
            Change::InsertFactor(copied.clone()),
            Change::ConfirmFactor { factor_id: copied.id, step: TotpStep::at(T0), at: T0 },
        ])
        .await
        .unwrap();
    // Five tries, all the token takes.
    for _ in 0..5 {
        let err = verify(&svc, &ch.mfa_token, SecondFactor::Totp, &code_at(&h, 0)).await;
        assert!(matches!(err, Err(MfaVerifyError::Infra(_))), "{err:?}");
    }
    // None of those counted as a wrong code, and no reservation was left to expire into one.
    assert_eq!(h.store.rate_events(&format!("mfa:{}", laura.id)), 0);
    assert!(audits(&h, "auth.login.failure").is_empty());
}
