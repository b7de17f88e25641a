//! Passkeys on fakes: registration as a second factor, sign-in without a password, and the
//! refusals (a used, expired or foreign ceremony, another account's credential, a counter
//! that went backwards) with their audit entries, lockout and races.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{Aal, AccountBlock, AccountStatus, AuthMethod, FactorKind, FactorName, Password, User};
use portcullis_domain::ports::{Change, Clock, FactorRepository, PasskeyRefusal, UnitOfWork};
use portcullis_domain::{LoginError, MfaManageError, PasskeySignInError, Principal, RegisteredPasskeyFactor};
use portcullis_testing::TestHandles;
use portcullis_testing::fakes::FakePasskeys;
use portcullis_testing::fixtures::PASSWORD;
use serde_json::Value;

use crate::support::{
    Service, audits, ctx, email, login_ok, login_request, mail_with_subject, principal, seed_verified, service,
    shared_service, stored_session,
};

const NOTICE: &str = "Your Portcullis sign-in settings changed";

fn name(raw: &str) -> FactorName {
    FactorName::parse(raw).expect("a valid name")
}

/// The reasons of the stored audit entries with this action, oldest first.
fn reasons(h: &TestHandles, action: &str) -> Vec<String> {
    audits(h, action).iter().filter_map(|e| e.metadata.get("reason")?.as_str().map(str::to_owned)).collect()
}

/// Creation options for `me`, and the response of an authenticator making `key`.
async fn registration_response(svc: &Service, me: &Principal, key: &[u8], verify: bool) -> Value {
    let options = svc.passkey_registration_options(me, Password::new(PASSWORD), &ctx()).await.expect("options");
    FakePasskeys::registration(&options, key, verify)
}

/// Registers the passkey `key` for `me`.
async fn register(svc: &Service, me: &Principal, key: &[u8], verify: bool) -> RegisteredPasskeyFactor {
    let response = registration_response(svc, me, key, verify).await;
    svc.register_passkey(me, name("Laptop"), &response, &ctx()).await.expect("registered")
}

/// A password session of `address` (before any factor).
async fn password_session(svc: &Service, address: &str) -> Principal {
    principal(svc, &login_ok(svc, address).await).await
}

/// An assertion by `key` at `counter` for fresh sign-in options (for `address`, if given).
async fn assertion(svc: &Service, address: Option<&str>, key: &[u8], user: &User, counter: u32, verify: bool) -> Value {
    let address = address.map(email);
    let options = svc.passkey_sign_in_options(address.as_ref(), &ctx()).await.expect("options");
    FakePasskeys::assertion(&options, key, Some(user.id), counter, verify)
}

#[tokio::test]
async fn the_first_passkey_is_a_factor_with_recovery_codes_and_signs_the_other_sessions_out() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let other = password_session(&svc, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let options = svc.passkey_registration_options(&me, Password::new(PASSWORD), &ctx()).await.expect("options");
    assert_eq!(options["publicKey"]["user"]["name"], "laura@example.com");
    assert_eq!(options["publicKey"]["excludeCredentials"], serde_json::json!([]));
    let response = FakePasskeys::registration(&options, b"key-1", true);
    let registered = svc.register_passkey(&me, name("Laptop"), &response, &ctx()).await.expect("registered");

    assert_eq!(registered.recovery_codes.as_ref().map(Vec::len), Some(10));
    assert!(registered.factor.is_active() && registered.factor.kind == FactorKind::Webauthn);
    assert_eq!(registered.passkey.credential_id.as_bytes(), b"key-1");
    assert_eq!(h.store.passkeys(laura.id).await.expect("passkeys"), vec![registered.passkey.clone()]);
    assert!(stored_session(&h, other.session_id).revoked_at.is_some(), "the other session is signed out");
    assert!(stored_session(&h, me.session_id).revoked_at.is_none());
    let enrolled = audits(&h, "mfa.factor.enrolled");
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].metadata["type"], "webauthn");
    let notice = mail_with_subject(&h, "laura@example.com", NOTICE);
    assert!(notice.iter().any(|m| m.body.contains("A passkey, Laptop, was added")), "{notice:?}");
    // A password alone no longer signs in.
    let login = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    assert!(matches!(login, Err(LoginError::MfaRequired(_))), "{login:?}");

    // This session signed in with a password alone: now that the account has a factor, it
    // may not change them (a used ceremony is refused too; see the next case).
    let me_again = svc.register_passkey(&me, name("Again"), &response, &ctx()).await;
    assert!(matches!(me_again, Err(MfaManageError::SecondFactorRequired)), "{me_again:?}");
}

#[tokio::test]
async fn a_registration_needs_the_password_and_its_own_live_ceremony() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    seed_verified(&h, "ana@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let ana = password_session(&svc, "ana@example.com").await;
    let wrong = svc.passkey_registration_options(&me, Password::new("not it"), &ctx()).await;
    assert!(matches!(wrong, Err(MfaManageError::WrongPassword)), "{wrong:?}");

    // Ana's ceremony answered from Laura's session.
    let theirs = registration_response(&svc, &ana, b"key-a", true).await;
    let refused = svc.register_passkey(&me, name("Laptop"), &theirs, &ctx()).await;
    assert!(matches!(refused, Err(MfaManageError::InvalidCredential)), "{refused:?}");
    // Used up by that attempt: Ana cannot finish it either.
    let used = svc.register_passkey(&ana, name("Laptop"), &theirs, &ctx()).await;
    assert!(matches!(used, Err(MfaManageError::InvalidCredential)), "{used:?}");
    // A check the engine fails, a body that is no response, a ceremony that expired.
    let forged = FakePasskeys::refused(registration_response(&svc, &me, b"key-1", true).await, PasskeyRefusal::Origin);
    assert!(svc.register_passkey(&me, name("Laptop"), &forged, &ctx()).await.is_err());
    let broken = serde_json::json!({"hello": "world"});
    assert!(svc.register_passkey(&me, name("Laptop"), &broken, &ctx()).await.is_err());
    let late = registration_response(&svc, &me, b"key-1", true).await;
    h.clock.advance(Duration::from_secs(301));
    assert!(svc.register_passkey(&me, name("Laptop"), &late, &ctx()).await.is_err());
    assert_eq!(
        reasons(&h, "mfa.passkey.refused"),
        ["wrong_ceremony", "unknown_challenge", "wrong_origin", "malformed_credential", "unknown_challenge"]
    );
    assert!(h.store.factors().is_empty(), "nothing registered");
}

#[tokio::test]
async fn one_credential_belongs_to_one_account() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let them = password_session(&svc, "ana@example.com").await;
    register(&svc, &me, b"shared-key", true).await;
    let response = registration_response(&svc, &them, b"shared-key", true).await;
    let refused = svc.register_passkey(&them, name("Laptop"), &response, &ctx()).await;
    assert!(matches!(refused, Err(MfaManageError::InvalidCredential)), "{refused:?}");
    assert_eq!(reasons(&h, "mfa.passkey.refused"), ["credential_registered"]);
    assert!(h.store.passkeys(ana.id).await.expect("passkeys").is_empty());
    assert!(h.store.recovery_codes_of(ana.id).is_empty(), "no codes for a factor that was not added");
}

#[tokio::test]
async fn a_verified_passkey_signs_in_at_aal_2_like_a_password_login() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let registered = register(&svc, &me, b"key-1", true).await;
    let alerts_before = mail_with_subject(&h, "laura@example.com", "New sign-in to your Portcullis account").len();

    let response = assertion(&svc, None, b"key-1", &laura, 1, true).await;
    let outcome = svc.passkey_sign_in(&response, false, &ctx()).await.expect("signed in");
    let session = principal(&svc, &outcome).await;
    assert_eq!((session.aal, session.amr.clone()), (Aal::Two, vec![AuthMethod::HardwareKey]));
    let success = audits(&h, "auth.login.success").pop().expect("an entry");
    assert_eq!(success.metadata["method"], "passkey");
    let alerts = mail_with_subject(&h, "laura@example.com", "New sign-in to your Portcullis account");
    assert_eq!(alerts.len(), alerts_before + 1, "the new-sign-in alert");
    // Its advice fits a passkey: no password was used, so changing it would not help.
    let alert = alerts.last().expect("the alert");
    assert!(alert.body.contains("with a passkey") && !alert.body.contains("change your password"), "{}", alert.body);
    let notice = h.store.notifications().into_iter().last().expect("the in-app alert");
    assert!(notice.body.contains("with a passkey") && notice.body.contains("remove any passkey"), "{}", notice.body);
    let stored = h.store.passkeys(laura.id).await.expect("passkeys").remove(0);
    assert_eq!(stored.sign_count, 1);
    let factor = h.store.factors().into_iter().find(|f| f.id == registered.factor.id).expect("factor");
    assert!(factor.last_used_at.is_some());
    // An aal 2 session manages factors; it lists and removes the passkey.
    let listed = svc.own_passkeys(&session).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].backed_up && !listed[0].disabled);
    svc.remove_passkey(&session, registered.factor.id, Password::new(PASSWORD), &ctx()).await.expect("removed");
    assert!(h.store.passkeys(laura.id).await.expect("passkeys").is_empty());
    login_ok(&svc, "laura@example.com").await;
}

#[tokio::test]
async fn an_unverified_passkey_signs_in_at_aal_1_and_a_synced_one_says_swk() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", false).await;
    let mut response = assertion(&svc, Some("laura@example.com"), b"key-1", &laura, 0, false).await;
    response["backed_up"] = serde_json::json!(true);
    let outcome = svc.passkey_sign_in(&response, true, &ctx()).await.expect("signed in");
    let session = principal(&svc, &outcome).await;
    assert_eq!((session.aal, session.amr), (Aal::One, vec![AuthMethod::SoftwareKey]));
    assert!(h.store.passkeys(laura.id).await.expect("passkeys")[0].backed_up);
    // An aal 1 session cannot manage the account's factors.
    let listed = svc.own_passkeys(&principal(&svc, &outcome).await).await;
    assert!(matches!(listed, Err(MfaManageError::SecondFactorRequired)), "{listed:?}");
}

#[tokio::test]
async fn replays_expired_ceremonies_and_other_accounts_credentials_are_refused_audited_and_counted() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;

    let response = assertion(&svc, None, b"key-1", &laura, 1, true).await;
    svc.passkey_sign_in(&response, false, &ctx()).await.expect("signed in");
    // The same assertion again: its ceremony is gone.
    let replay = svc.passkey_sign_in(&response, false, &ctx()).await;
    assert!(matches!(replay, Err(PasskeySignInError::InvalidCredential)), "{replay:?}");
    // Options asked for Ana's address: Laura's passkey does not answer them.
    let for_ana = assertion(&svc, Some("ana@example.com"), b"key-1", &laura, 2, true).await;
    assert!(svc.passkey_sign_in(&for_ana, false, &ctx()).await.is_err());
    // A user handle naming another account than the credential's owner.
    let mut handle = assertion(&svc, None, b"key-1", &laura, 3, true).await;
    handle["userHandle"] = serde_json::json!(ana.id.to_string());
    assert!(svc.passkey_sign_in(&handle, false, &ctx()).await.is_err());
    // Five minutes and a second later.
    let late = assertion(&svc, None, b"key-1", &laura, 4, true).await;
    h.clock.advance(Duration::from_secs(301));
    assert!(svc.passkey_sign_in(&late, false, &ctx()).await.is_err());
    // Signatures the engine refuses.
    for counter in [5, 6, 7] {
        let signed = assertion(&svc, None, b"key-1", &laura, counter, true).await;
        let forged = FakePasskeys::refused(signed, PasskeyRefusal::Signature);
        assert!(svc.passkey_sign_in(&forged, false, &ctx()).await.is_err());
    }
    let failures: Vec<_> = audits(&h, "auth.login.failure")
        .iter()
        .map(|e| (e.metadata["method"].clone(), e.metadata["reason"].as_str().unwrap_or("").to_owned()))
        .collect();
    let expected = [
        "unknown_challenge",
        "wrong_user",
        "wrong_user",
        "unknown_challenge",
        "bad_signature",
        "bad_signature",
        "bad_signature",
    ];
    assert_eq!(failures.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>(), expected);
    assert!(failures.iter().all(|(m, _)| m == "passkey"));

    // Five counted refusals (a response without a live ceremony can never sign in, and does
    // not count): the account is locked, for passkeys and passwords alike.
    let next = assertion(&svc, None, b"key-1", &laura, 8, true).await;
    let locked = svc.passkey_sign_in(&next, false, &ctx()).await;
    assert!(matches!(locked, Err(PasskeySignInError::TooManyAttempts { .. })), "{locked:?}");
    let password = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    assert!(matches!(password, Err(LoginError::TooManyAttempts { .. })), "{password:?}");
}

#[tokio::test]
async fn a_counter_that_went_backwards_disables_the_passkey_and_tells_its_owner() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;
    let response = assertion(&svc, None, b"key-1", &laura, 7, true).await;
    let outcome = svc.passkey_sign_in(&response, false, &ctx()).await.expect("signed in");
    let strong = principal(&svc, &outcome).await;
    assert!(svc.mfa_overview(&strong).await.expect("overview").disabled.is_empty());

    let clone = assertion(&svc, None, b"key-1", &laura, 3, true).await;
    let refused = svc.passkey_sign_in(&clone, false, &ctx()).await;
    assert!(matches!(refused, Err(PasskeySignInError::InvalidCredential)), "{refused:?}");
    let stored = h.store.passkeys(laura.id).await.expect("passkeys").remove(0);
    assert!(stored.disabled_at.is_some());
    assert_eq!(reasons(&h, "mfa.passkey.disabled"), ["counter_went_backwards"]);
    let notice = mail_with_subject(&h, "laura@example.com", NOTICE);
    assert!(notice.iter().any(|m| m.body.contains("One of your passkeys was disabled")), "{notice:?}");
    // Disabled for good, even with a counter that moved on; still the account's factor.
    let later = assertion(&svc, None, b"key-1", &laura, 50, true).await;
    assert!(svc.passkey_sign_in(&later, false, &ctx()).await.is_err());
    assert_eq!(reasons(&h, "auth.login.failure"), ["counter_went_backwards", "passkey_disabled"]);
    let password = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    let Err(LoginError::MfaRequired(challenge)) = password else { panic!("{password:?}") };
    assert_eq!(challenge.factors, [portcullis_domain::SecondFactor::RecoveryCode], "the disabled key is not offered");
    assert!(challenge.webauthn_options.is_none());
    let overview = svc.mfa_overview(&strong).await.expect("overview");
    assert_eq!(overview.factors.len(), 1, "still listed: {overview:?}");
    assert_eq!(overview.disabled, [overview.factors[0].id], "and marked disabled");
}

#[tokio::test]
async fn a_blocked_account_does_not_sign_in_with_its_passkey() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;
    let suspend = Change::SetStatus { user_id: laura.id, status: AccountStatus::Suspended, at: h.clock.now() };
    h.store.commit(vec![suspend]).await.expect("suspended");
    let response = assertion(&svc, None, b"key-1", &laura, 1, true).await;
    let refused = svc.passkey_sign_in(&response, false, &ctx()).await;
    assert!(matches!(refused, Err(PasskeySignInError::Blocked(AccountBlock::Suspended))), "{refused:?}");
    assert_eq!(reasons(&h, "auth.login.failure"), ["account_suspended"]);
}

#[tokio::test]
async fn twenty_parallel_uses_of_one_assertion_give_one_session() {
    let (svc, h) = shared_service(portcullis_domain::Policy::default());
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    let options = svc.passkey_registration_options(&me, Password::new(PASSWORD), &ctx()).await.expect("options");
    let response = FakePasskeys::registration(&options, b"key-1", true);
    svc.register_passkey(&me, name("Laptop"), &response, &ctx()).await.expect("registered");
    let sessions_before = h.store.sessions().len();
    let options = svc.passkey_sign_in_options(None, &ctx()).await.expect("options");
    let response = FakePasskeys::assertion(&options, b"key-1", Some(laura.id), 1, true);
    let request = ctx();
    let results = join_all((0..20).map(|_| svc.passkey_sign_in(&response, false, &request))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert_eq!(h.store.sessions().len(), sessions_before + 1);
}

#[tokio::test]
async fn sign_in_options_look_the_same_for_every_address() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;
    let shape = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v["publicKey"].as_object().expect("options").keys().cloned().collect();
        keys.sort();
        keys.push(v["publicKey"]["allowCredentials"].to_string());
        keys
    };
    let known = svc.passkey_sign_in_options(Some(&email("laura@example.com")), &ctx()).await.expect("options");
    let unknown = svc.passkey_sign_in_options(Some(&email("nobody@example.com")), &ctx()).await.expect("options");
    let anyone = svc.passkey_sign_in_options(None, &ctx()).await.expect("options");
    assert_eq!(shape(&known), shape(&unknown));
    assert_eq!(shape(&known), shape(&anyone));
    assert_ne!(known["publicKey"]["challenge"], unknown["publicKey"]["challenge"]);
    // An unknown address's ceremony accepts nobody's passkey.
    let response = FakePasskeys::assertion(&unknown, b"key-1", Some(laura.id), 1, true);
    assert!(svc.passkey_sign_in(&response, false, &ctx()).await.is_err());
}

#[tokio::test]
async fn remove_passkey_removes_only_passkeys() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let registered = register(&svc, &me, b"key-1", true).await;
    let response = assertion(&svc, None, b"key-1", &laura, 1, true).await;
    let strong = principal(&svc, &svc.passkey_sign_in(&response, false, &ctx()).await.expect("in")).await;
    let enrolment =
        svc.begin_totp_enrolment(&strong, Password::new(PASSWORD), name("Phone"), &ctx()).await.expect("begun");
    let not_a_passkey = svc.remove_passkey(&strong, enrolment.factor_id, Password::new(PASSWORD), &ctx()).await;
    assert!(matches!(not_a_passkey, Err(MfaManageError::NotFound)), "{not_a_passkey:?}");
    let wrong = svc.remove_passkey(&strong, registered.factor.id, Password::new("nope"), &ctx()).await;
    assert!(matches!(wrong, Err(MfaManageError::WrongPassword)), "{wrong:?}");
    svc.remove_passkey(&strong, registered.factor.id, Password::new(PASSWORD), &ctx()).await.expect("removed");
    assert_eq!(audits(&h, "mfa.factor.removed").len(), 1);
}

#[tokio::test]
async fn housekeeping_removes_ceremonies_nobody_finished() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    svc.passkey_sign_in_options(None, &ctx()).await.expect("options");
    let live = svc.passkey_sign_in_options(None, &ctx()).await.expect("options");
    assert_eq!(svc.purge_stale_enrolments().await.expect("purge"), 0, "both still live");
    h.clock.advance(Duration::from_secs(301));
    assert_eq!(svc.purge_stale_enrolments().await.expect("purge"), 2);
    let late = FakePasskeys::assertion(&live, b"key-1", None, 1, true);
    assert!(svc.passkey_sign_in(&late, false, &ctx()).await.is_err());
}

/// The password step of an account with a passkey: its challenge.
async fn password_step(svc: &Service, address: &str) -> portcullis_domain::MfaChallenge {
    match svc.login(login_request(address, PASSWORD, false), &ctx()).await {
        Err(LoginError::MfaRequired(challenge)) => challenge,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn webauthn_step(
    challenge: &portcullis_domain::MfaChallenge,
    credential: Value,
) -> portcullis_domain::MfaVerifyRequest {
    portcullis_domain::MfaVerifyRequest {
        mfa_token: challenge.mfa_token.clone(),
        factor: portcullis_domain::SecondFactor::Webauthn,
        code: String::new(),
        credential: Some(credential),
    }
}

#[tokio::test]
async fn a_passkey_finishes_a_password_sign_in_through_options_bound_to_its_token() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", false).await;

    let challenge = password_step(&svc, "laura@example.com").await;
    assert_eq!(
        challenge.factors,
        [portcullis_domain::SecondFactor::Webauthn, portcullis_domain::SecondFactor::RecoveryCode]
    );
    let options = challenge.webauthn_options.clone().expect("options for the passkey");
    assert_eq!(options["publicKey"]["allowCredentials"][0]["id"], "6b65792d31", "the account's passkey is listed");
    // Options of another token, and of a passwordless sign-in, do not finish this one.
    let other = password_step(&svc, "laura@example.com").await;
    let foreign = FakePasskeys::assertion(other.webauthn_options.as_ref().expect("options"), b"key-1", None, 1, false);
    let refused = svc.verify_mfa(webauthn_step(&challenge, foreign), &ctx()).await;
    assert!(matches!(refused, Err(portcullis_domain::MfaVerifyError::InvalidCredential { .. })), "{refused:?}");
    let passwordless = assertion(&svc, None, b"key-1", &laura, 1, false).await;
    let refused = svc.verify_mfa(webauthn_step(&challenge, passwordless), &ctx()).await;
    assert!(matches!(refused, Err(portcullis_domain::MfaVerifyError::InvalidCredential { .. })), "{refused:?}");

    // Without user verification: the possession of the key is the second factor.
    let response = FakePasskeys::assertion(&options, b"key-1", None, 1, false);
    let outcome = svc.verify_mfa(webauthn_step(&challenge, response.clone()), &ctx()).await.expect("signed in");
    let session = principal(&svc, &outcome).await;
    assert_eq!((session.aal, session.amr), (Aal::Two, vec![AuthMethod::Password, AuthMethod::HardwareKey]));
    assert_eq!(audits(&h, "auth.login.success").pop().expect("entry").metadata["mfa"], "webauthn");
    assert_eq!(
        audits(&h, "auth.login.failure")
            .iter()
            .map(|e| (e.metadata["mfa"].clone(), e.metadata["passkey_reason"].clone()))
            .collect::<Vec<_>>(),
        vec![(serde_json::json!("webauthn"), serde_json::json!("wrong_ceremony")); 2],
        "the refusals are audited as wrong second factors, with the passkey's reason"
    );
    // Replayed on a new token: its ceremony is gone.
    let next = password_step(&svc, "laura@example.com").await;
    assert!(svc.verify_mfa(webauthn_step(&next, response), &ctx()).await.is_err());
}

#[tokio::test]
async fn a_refused_passkey_at_the_second_step_brings_fresh_options_for_the_same_token() {
    use portcullis_domain::MfaVerifyError;
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", false).await;

    let challenge = password_step(&svc, "laura@example.com").await;
    let options = challenge.webauthn_options.clone().expect("options");
    // A key the account does not have answers the token's own ceremony: refused, and that
    // ceremony is used up, but the token is not.
    let stranger = FakePasskeys::assertion(&options, b"key-9", None, 1, false);
    let fresh = match svc.verify_mfa(webauthn_step(&challenge, stranger), &ctx()).await {
        Err(MfaVerifyError::InvalidCredential { webauthn_options: Some(fresh) }) => fresh,
        other => panic!("expected fresh options, got {other:?}"),
    };
    assert_ne!(fresh["publicKey"]["challenge"], options["publicKey"]["challenge"]);
    assert_eq!(fresh["publicKey"]["allowCredentials"], options["publicKey"]["allowCredentials"]);
    let stale = FakePasskeys::assertion(&options, b"key-1", None, 1, false);
    let refused = svc.verify_mfa(webauthn_step(&challenge, stale), &ctx()).await;
    assert!(
        matches!(refused, Err(MfaVerifyError::InvalidCredential { .. })),
        "the refused ceremony is gone: {refused:?}"
    );
    // The fresh options work with this token only.
    let other = password_step(&svc, "laura@example.com").await;
    let foreign = FakePasskeys::assertion(&fresh, b"key-1", None, 1, false);
    assert!(svc.verify_mfa(webauthn_step(&other, foreign), &ctx()).await.is_err());
    let retry = password_step(&svc, "laura@example.com").await;
    let stranger = FakePasskeys::assertion(retry.webauthn_options.as_ref().expect("options"), b"key-9", None, 1, false);
    let Err(MfaVerifyError::InvalidCredential { webauthn_options: Some(fresh) }) =
        svc.verify_mfa(webauthn_step(&retry, stranger), &ctx()).await
    else {
        panic!("expected fresh options")
    };
    let response = FakePasskeys::assertion(&fresh, b"key-1", None, 1, false);
    svc.verify_mfa(webauthn_step(&retry, response), &ctx()).await.expect("signed in on the same token");
}

#[tokio::test]
async fn the_last_try_of_a_token_brings_no_options() {
    use portcullis_domain::MfaVerifyError;
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", false).await;
    let challenge = password_step(&svc, "laura@example.com").await;
    let mut options = challenge.webauthn_options.clone().expect("options");
    let tries = svc.policy().mfa_code_max_attempts;
    for attempt in 1..=tries {
        let stranger = FakePasskeys::assertion(&options, b"key-9", None, 1, false);
        match svc.verify_mfa(webauthn_step(&challenge, stranger), &ctx()).await {
            Err(MfaVerifyError::InvalidCredential { webauthn_options: Some(next) }) if attempt < tries => {
                options = next
            }
            Err(MfaVerifyError::InvalidCredential { webauthn_options: None }) if attempt == tries => {}
            other => panic!("try {attempt}: {other:?}"),
        }
    }
    let response = FakePasskeys::assertion(&options, b"key-1", None, 1, false);
    let burned = svc.verify_mfa(webauthn_step(&challenge, response), &ctx()).await;
    assert!(matches!(burned, Err(MfaVerifyError::ChallengeBurned)), "{burned:?}");
}

#[tokio::test]
async fn a_double_submitted_passkey_response_never_locks_the_owner_out() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;
    let response = assertion(&svc, None, b"key-1", &laura, 1, true).await;
    svc.passkey_sign_in(&response, false, &ctx()).await.expect("signed in");
    for _ in 0..8 {
        let again = svc.passkey_sign_in(&response, false, &ctx()).await;
        assert!(matches!(again, Err(PasskeySignInError::InvalidCredential)), "{again:?}");
    }
    let fresh = assertion(&svc, None, b"key-1", &laura, 2, true).await;
    svc.passkey_sign_in(&fresh, false, &ctx()).await.expect("not locked out");

    // At the second step: the copy of a used response is a lost race, not a wrong code.
    let challenge = password_step(&svc, "laura@example.com").await;
    let options = challenge.webauthn_options.clone().expect("options");
    let step = FakePasskeys::assertion(&options, b"key-1", None, 3, true);
    svc.verify_mfa(webauthn_step(&challenge, step.clone()), &ctx()).await.expect("second step");
    // Twelve copies over three tokens (each token takes five tries of any kind): were they
    // counted as wrong, the account's ten would refuse every step for 30 minutes.
    for _ in 0..3 {
        let token = password_step(&svc, "laura@example.com").await;
        for _ in 0..4 {
            let copy = svc.verify_mfa(webauthn_step(&token, step.clone()), &ctx()).await;
            assert!(matches!(copy, Err(portcullis_domain::MfaVerifyError::InvalidCredential { .. })), "{copy:?}");
        }
    }
    let next = password_step(&svc, "laura@example.com").await;
    let options = next.webauthn_options.clone().expect("options");
    let good = FakePasskeys::assertion(&options, b"key-1", None, 4, true);
    let finished = svc.verify_mfa(webauthn_step(&next, good), &ctx()).await;
    assert!(finished.is_ok(), "the account's second step was not locked: {finished:?}");
}

#[tokio::test]
async fn an_administrators_reset_removes_passkeys_too() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;
    let mut root = portcullis_testing::fixtures::user("root@example.com", h.clock.now());
    root.roles = portcullis_domain::model::Roles::new(vec![
        portcullis_domain::model::Role::User,
        portcullis_domain::model::Role::Admin,
    ]);
    h.seed(root).await;
    let actor = portcullis_domain::Actor::user(&password_session(&svc, "root@example.com").await);
    assert_eq!(svc.admin_reset_mfa(&actor, laura.id, &ctx()).await.expect("reset"), 1);
    assert!(h.store.passkeys(laura.id).await.expect("passkeys").is_empty());
    login_ok(&svc, "laura@example.com").await;
    // The credential is free again, for this account or another.
    let me = password_session(&svc, "laura@example.com").await;
    register(&svc, &me, b"key-1", true).await;
}

#[tokio::test]
async fn a_totp_confirmation_never_takes_a_passkey_factor() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let registered = register(&svc, &me, b"key-1", true).await;
    let response = assertion(&svc, None, b"key-1", &laura, 1, true).await;
    let strong = principal(&svc, &svc.passkey_sign_in(&response, false, &ctx()).await.expect("in")).await;
    let refused = svc.confirm_totp_enrolment(&strong, registered.factor.id, "123456", &ctx()).await;
    assert!(matches!(refused, Err(MfaManageError::NotFound)), "{refused:?}");
    let overview = svc.mfa_overview(&strong).await.expect("overview");
    assert_eq!(overview.factors.len(), 1);
    assert_eq!(overview.factors[0].kind, FactorKind::Webauthn);
}
