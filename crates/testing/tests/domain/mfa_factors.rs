//! Enrolling, listing, removing and renewing second factors on fakes, and the admin reset.

use std::time::Duration;

use portcullis_domain::model::{
    Aal, FactorName, Password, RecoveryCode, Role, Roles, TotpSecret, TotpStep, User, UserId,
};
use portcullis_domain::ports::{Change, Clock, SecretCipher, UnitOfWork};
use portcullis_domain::{
    Actor, AdminError, LoginError, MfaManageError, MfaVerifyRequest, Principal, SecondFactor, TotpEnrolment,
};
use portcullis_testing::TestHandles;
use portcullis_testing::fakes::PlainCipher;
use portcullis_testing::fixtures::PASSWORD;
use serde_json::json;

use crate::support::{
    Service, audits, ctx, email, login_ok, login_request, mail_with_subject, new_password, principal, seed_verified,
    service, stored_session,
};

const NOTICE: &str = "Your Portcullis sign-in settings changed";

fn name(raw: &str) -> FactorName {
    FactorName::parse(raw).expect("a valid name")
}

/// The code the enrolment's authenticator shows now.
fn code_now(h: &TestHandles, secret: &TotpSecret) -> String {
    secret.code_at(TotpStep::at(h.clock.now()))
}

/// Signs in with the password alone.
async fn password_session(svc: &Service, address: &str) -> Principal {
    principal(svc, &login_ok(svc, address).await).await
}

/// Enrols and confirms a TOTP factor named `label`; the enrolment and the recovery codes.
async fn enrol(
    svc: &Service,
    h: &TestHandles,
    me: &Principal,
    label: &str,
) -> (TotpEnrolment, Option<Vec<RecoveryCode>>) {
    let enrolment = svc.begin_totp_enrolment(me, Password::new(PASSWORD), name(label), &ctx()).await.expect("begun");
    let (factor, codes) = svc
        .confirm_totp_enrolment(me, enrolment.factor_id, &code_now(h, &enrolment.secret), &ctx())
        .await
        .expect("confirmed");
    assert!(factor.is_active());
    (enrolment, codes)
}

/// Signs in with the password and a TOTP code of `secret` (a step later than any used).
async fn aal2_session(svc: &Service, h: &TestHandles, address: &str, secret: &TotpSecret) -> Principal {
    h.clock.advance(Duration::from_secs(30));
    let Err(LoginError::MfaRequired(ch)) = svc.login(login_request(address, PASSWORD, false), &ctx()).await else {
        panic!("expected a challenge")
    };
    let req = MfaVerifyRequest {
        mfa_token: ch.mfa_token,
        factor: SecondFactor::Totp,
        code: code_now(h, secret),
        credential: None,
    };
    let out = svc.verify_mfa(req, &ctx()).await.expect("second step");
    principal(svc, &out).await
}

#[tokio::test]
async fn enrolment_is_pending_until_a_code_confirms_it() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let other = password_session(&svc, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;

    let enrolment = svc.begin_totp_enrolment(&me, Password::new(PASSWORD), name("Phone"), &ctx()).await.expect("begun");
    assert_eq!(enrolment.expires_in, Duration::from_secs(600));
    assert_eq!(enrolment.secret.expose_bytes().len(), 20);
    assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/Portcullis:laura%40example.com?secret="));
    assert!(enrolment.otpauth_uri.contains(&enrolment.secret.to_base32()));
    let shown = format!("{enrolment:?}");
    assert!(!shown.contains(&enrolment.secret.to_base32()), "{shown}");
    // Stored sealed, under the factor's id, and pending: the password alone still signs in.
    let stored = h.store.factors().pop().expect("a factor");
    assert_eq!((stored.id, stored.user_id, stored.confirmed_at), (enrolment.factor_id, laura.id, None));
    let opened = PlainCipher.open(&stored.id.to_string(), &stored.secret).expect("opens");
    assert_eq!(opened.as_slice(), enrolment.secret.expose_bytes());
    assert!(svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.is_ok());

    let wrong = svc.confirm_totp_enrolment(&me, enrolment.factor_id, "000000", &ctx()).await;
    assert!(matches!(wrong, Err(MfaManageError::InvalidCode)), "{wrong:?}");
    let (factor, codes) = svc
        .confirm_totp_enrolment(&me, enrolment.factor_id, &code_now(&h, &enrolment.secret), &ctx())
        .await
        .expect("confirmed");
    let codes = codes.expect("the first factor brings recovery codes");
    assert_eq!((factor.id, factor.confirmed_at), (enrolment.factor_id, Some(h.clock.now())));
    assert_eq!(codes.len(), 10);
    let mut shown: Vec<String> = codes.iter().map(|c| c.display().to_string()).collect();
    shown.sort();
    shown.dedup();
    assert_eq!(shown.len(), 10, "distinct codes");
    assert_eq!(h.store.recovery_codes_of(laura.id).len(), 10);

    // Every other session is revoked; this one stays, at the level it signed in with.
    assert!(stored_session(&h, other.session_id).revoked_at.is_some());
    assert!(stored_session(&h, me.session_id).revoked_at.is_none());
    assert_eq!(stored_session(&h, me.session_id).aal, Aal::One);
    let enrolled = audits(&h, "mfa.factor.enrolled");
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].metadata["type"], "totp");
    assert_eq!(enrolled[0].metadata["name"], "Phone");
    assert_eq!(enrolled[0].metadata["factor_id"], json!(enrolment.factor_id.to_string()));
    let audited = serde_json::to_string(&enrolled[0].metadata).expect("json");
    assert!(!audited.contains(&enrolment.secret.to_base32()));
    let notice = mail_with_subject(&h, "laura@example.com", NOTICE);
    assert_eq!(notice.len(), 1);
    assert!(notice[0].body.contains("A second factor, Phone, was added"), "{}", notice[0].body);
    // Now the password alone is not enough.
    let login = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await;
    assert!(matches!(login, Err(LoginError::MfaRequired(_))), "{login:?}");
}

#[tokio::test]
async fn enrolment_needs_the_password_and_counts_a_wrong_one() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let wrong = svc.begin_totp_enrolment(&me, Password::new("not it"), name("Phone"), &ctx()).await;
    assert!(matches!(wrong, Err(MfaManageError::WrongPassword)), "{wrong:?}");
    assert_eq!(h.store.rate_events("login:laura@example.com"), 1);
    assert!(h.store.factors().is_empty());
}

#[tokio::test]
async fn confirming_needs_a_live_pending_factor_of_ones_own() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    seed_verified(&h, "ana@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let ana = password_session(&svc, "ana@example.com").await;
    let enrolment = svc.begin_totp_enrolment(&me, Password::new(PASSWORD), name("Phone"), &ctx()).await.expect("begun");
    let code = code_now(&h, &enrolment.secret);
    let theirs = svc.confirm_totp_enrolment(&ana, enrolment.factor_id, &code, &ctx()).await;
    assert!(matches!(theirs, Err(MfaManageError::NotFound)), "{theirs:?}");
    h.clock.advance(Duration::from_secs(600));
    let late = svc.confirm_totp_enrolment(&me, enrolment.factor_id, &code_now(&h, &enrolment.secret), &ctx()).await;
    assert!(matches!(late, Err(MfaManageError::EnrolmentExpired)), "{late:?}");
}

#[tokio::test]
async fn with_a_factor_only_a_second_factor_session_manages_factors() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let (phone, _) = enrol(&svc, &h, &me, "Phone").await;
    // `me` signed in with the password alone.
    let refused = [
        svc.mfa_overview(&me).await.err(),
        svc.begin_totp_enrolment(&me, Password::new(PASSWORD), name("Tablet"), &ctx()).await.err(),
        svc.remove_factor(&me, phone.factor_id, Password::new(PASSWORD), &ctx()).await.err(),
        svc.regenerate_recovery_codes(&me, Password::new(PASSWORD), &ctx()).await.err(),
    ];
    assert!(refused.iter().all(|e| matches!(e, Some(MfaManageError::SecondFactorRequired))), "{refused:?}");

    let strong = aal2_session(&svc, &h, "laura@example.com", &phone.secret).await;
    assert_eq!(strong.aal, Aal::Two);
    let overview = svc.mfa_overview(&strong).await.expect("overview");
    assert_eq!(overview.recovery_codes_remaining, 10);
    assert_eq!(overview.factors.len(), 1);
    assert_eq!((overview.factors[0].id, overview.factors[0].user_id), (phone.factor_id, laura.id));
    assert_eq!(overview.factors[0].last_used_at, Some(h.clock.now()));

    // A second factor: no new recovery codes, and a pending one is not listed.
    h.clock.advance(Duration::from_secs(30));
    let (_, codes) = enrol(&svc, &h, &strong, "Tablet").await;
    assert!(codes.is_none());
    svc.begin_totp_enrolment(&strong, Password::new(PASSWORD), name("Spare"), &ctx()).await.expect("begun");
    let overview = svc.mfa_overview(&strong).await.expect("overview");
    assert_eq!(overview.factors.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["Phone", "Tablet"]);
    assert_eq!(overview.recovery_codes_remaining, 10);
}

#[tokio::test]
async fn removing_the_last_factor_turns_the_second_step_off() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let (phone, _) = enrol(&svc, &h, &me, "Phone").await;
    let strong = aal2_session(&svc, &h, "laura@example.com", &phone.secret).await;
    h.clock.advance(Duration::from_secs(30));
    let (tablet, _) = enrol(&svc, &h, &strong, "Tablet").await;

    let wrong = svc.remove_factor(&strong, phone.factor_id, Password::new("nope"), &ctx()).await;
    assert!(matches!(wrong, Err(MfaManageError::WrongPassword)), "{wrong:?}");
    svc.remove_factor(&strong, phone.factor_id, Password::new(PASSWORD), &ctx()).await.expect("removed");
    assert_eq!(h.store.recovery_codes_of(laura.id).len(), 10, "a factor remains");
    let gone = svc.remove_factor(&strong, phone.factor_id, Password::new(PASSWORD), &ctx()).await;
    assert!(matches!(gone, Err(MfaManageError::NotFound)), "{gone:?}");

    svc.remove_factor(&strong, tablet.factor_id, Password::new(PASSWORD), &ctx()).await.expect("removed");
    assert!(h.store.factors().is_empty());
    assert!(h.store.recovery_codes_of(laura.id).is_empty());
    let removed = audits(&h, "mfa.factor.removed");
    assert_eq!(removed.len(), 2);
    assert_eq!(
        (removed[0].metadata["mfa_enabled"].clone(), removed[1].metadata["mfa_enabled"].clone()),
        (json!(true), json!(false))
    );
    let last = mail_with_subject(&h, "laura@example.com", NOTICE).pop().expect("a notice");
    assert!(last.body.contains("needs only your password now"), "{}", last.body);
    assert!(svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.is_ok());
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let none = svc.regenerate_recovery_codes(&me, Password::new(PASSWORD), &ctx()).await;
    assert!(matches!(none, Err(MfaManageError::NoActiveFactor)), "{none:?}");
    let (phone, old) = enrol(&svc, &h, &me, "Phone").await;
    let old = old.expect("codes");
    let strong = aal2_session(&svc, &h, "laura@example.com", &phone.secret).await;
    let new = svc.regenerate_recovery_codes(&strong, Password::new(PASSWORD), &ctx()).await.expect("renewed");
    assert_eq!(new.len(), 10);
    assert_eq!(audits(&h, "mfa.recovery_codes.regenerated").len(), 1);

    for (code, works) in [(&old[0], false), (&new[0], true)] {
        let Err(LoginError::MfaRequired(ch)) =
            svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await
        else {
            panic!("expected a challenge")
        };
        let req = MfaVerifyRequest {
            mfa_token: ch.mfa_token,
            factor: SecondFactor::RecoveryCode,
            code: code.display().to_string(),
            credential: None,
        };
        assert_eq!(svc.verify_mfa(req, &ctx()).await.is_ok(), works);
    }
}

#[tokio::test]
async fn a_password_reset_by_mail_keeps_the_factors() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    enrol(&svc, &h, &me, "Phone").await;
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.expect("reset mailed");
    let code = crate::support::code(&h.random.last_code().expect("a reset code"));
    let fresh = new_password("a brand new passphrase");
    svc.reset_password(&email("laura@example.com"), &code, &fresh, &ctx()).await.expect("reset");
    assert_eq!(h.store.factors().len(), 1);
    let login = svc.login(login_request("laura@example.com", "a brand new passphrase", false), &ctx()).await;
    assert!(matches!(login, Err(LoginError::MfaRequired(_))), "{login:?}");
}

/// An administrator of `h`'s store and their actor.
async fn admin(svc: &Service, h: &TestHandles) -> (User, Actor) {
    let mut admin = portcullis_testing::fixtures::user("root@example.com", h.clock.now());
    admin.roles = Roles::new(vec![Role::User, Role::Admin]);
    let admin = h.seed(admin).await;
    let me = password_session(svc, "root@example.com").await;
    (admin, Actor::user(&me))
}

#[tokio::test]
async fn an_administrator_resets_a_users_factors() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    enrol(&svc, &h, &me, "Phone").await;
    let (root, actor) = admin(&svc, &h).await;

    let plain = Actor::user(&me);
    assert!(matches!(svc.admin_reset_mfa(&plain, laura.id, &ctx()).await, Err(AdminError::Forbidden)));
    assert!(matches!(svc.admin_reset_mfa(&actor, root.id, &ctx()).await, Err(AdminError::SelfTarget)));
    assert!(matches!(svc.admin_reset_mfa(&actor, UserId::new_v7(), &ctx()).await, Err(AdminError::NotFound)));

    svc.admin_reset_mfa(&actor, laura.id, &ctx()).await.expect("reset");
    assert!(h.store.factors().is_empty());
    assert!(h.store.recovery_codes_of(laura.id).is_empty());
    assert!(stored_session(&h, me.session_id).revoked_at.is_some());
    let reset = audits(&h, "admin.user.mfa_reset");
    assert_eq!(reset.len(), 1);
    assert_eq!((reset[0].user_id, reset[0].metadata["actor_id"].clone()), (Some(laura.id), json!(root.id.to_string())));
    assert_eq!(reset[0].metadata["factors_removed"], 1);
    let notice = mail_with_subject(&h, "laura@example.com", NOTICE).pop().expect("a notice");
    assert!(notice.body.contains("An administrator removed every second factor"), "{}", notice.body);
    assert!(svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.is_ok());
}

#[tokio::test]
async fn an_enrolment_takes_five_codes_then_is_gone() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let enrolment = svc.begin_totp_enrolment(&me, Password::new(PASSWORD), name("Phone"), &ctx()).await.expect("begun");
    for _ in 0..5 {
        let wrong = svc.confirm_totp_enrolment(&me, enrolment.factor_id, "000000", &ctx()).await;
        assert!(matches!(wrong, Err(MfaManageError::InvalidCode)), "{wrong:?}");
    }
    let right = code_now(&h, &enrolment.secret);
    let sixth = svc.confirm_totp_enrolment(&me, enrolment.factor_id, &right, &ctx()).await;
    assert!(matches!(sixth, Err(MfaManageError::CodeAttemptsExceeded)), "{sixth:?}");
    assert!(h.store.factors().is_empty(), "the enrolment is gone");
    let again = svc.confirm_totp_enrolment(&me, enrolment.factor_id, &right, &ctx()).await;
    assert!(matches!(again, Err(MfaManageError::NotFound)), "{again:?}");
}

#[tokio::test]
async fn confirming_needs_a_second_factor_session_once_one_is_active() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let (phone, _) = enrol(&svc, &h, &me, "Phone").await;
    let strong = aal2_session(&svc, &h, "laura@example.com", &phone.secret).await;
    let tablet =
        svc.begin_totp_enrolment(&strong, Password::new(PASSWORD), name("Tablet"), &ctx()).await.expect("begun");
    // `me` kept its password-only level when it enrolled the phone.
    let weak = svc.confirm_totp_enrolment(&me, tablet.factor_id, &code_now(&h, &tablet.secret), &ctx()).await;
    assert!(matches!(weak, Err(MfaManageError::SecondFactorRequired)), "{weak:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_enrolments_confirmed_at_once_hand_out_one_set_of_codes() {
    let (svc, h) = crate::support::shared_service(portcullis_domain::Policy::default());
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    let mut enrolments = Vec::new();
    for label in ["Phone", "Tablet"] {
        let e = svc.begin_totp_enrolment(&me, Password::new(PASSWORD), name(label), &ctx()).await.expect("begun");
        enrolments.push(e);
    }
    let results = futures_util::future::join_all(enrolments.iter().map(|e| {
        let (svc, me, code) = (std::sync::Arc::clone(&svc), me.clone(), code_now(&h, &e.secret));
        let id = e.factor_id;
        tokio::spawn(async move { svc.confirm_totp_enrolment(&me, id, &code, &ctx()).await })
    }))
    .await;
    // Overlapping, both confirm. When the scheduler runs one after the other, the second
    // meets an active factor with a password-only session and is refused: the rule for any
    // later change. Either way one set of codes is handed out.
    let mut confirmed = Vec::new();
    for result in results {
        match result.expect("joined") {
            Ok(done) => confirmed.push(done),
            Err(MfaManageError::SecondFactorRequired) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(!confirmed.is_empty());
    let with_codes: Vec<_> = confirmed.iter().filter_map(|(_, codes)| codes.as_ref()).collect();
    assert_eq!(with_codes.len(), 1, "one set of codes");
    assert_eq!(h.store.factors().iter().filter(|f| f.is_active()).count(), confirmed.len());
    // The codes handed out are the ones stored.
    let stored = h.store.recovery_codes_of(laura.id);
    assert_eq!(stored.len(), 10);
    let shown = with_codes[0][0].display().to_string();
    let digest = portcullis_domain::ports::SecretHasher::digest(
        &h.secrets,
        portcullis_domain::model::RECOVERY_CODE_PURPOSE,
        RecoveryCode::parse(&shown).expect("a code").expose(),
    );
    assert!(stored.iter().any(|c| c.digest == digest));
}

#[tokio::test]
async fn removing_a_pending_factor_mails_nothing() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    let (phone, _) = enrol(&svc, &h, &me, "Phone").await;
    let strong = aal2_session(&svc, &h, "laura@example.com", &phone.secret).await;
    let spare = svc.begin_totp_enrolment(&strong, Password::new(PASSWORD), name("Spare"), &ctx()).await.expect("begun");
    let notices = mail_with_subject(&h, "laura@example.com", NOTICE).len();
    let removed = svc.remove_factor(&strong, spare.factor_id, Password::new(PASSWORD), &ctx()).await.expect("removed");
    assert!(!removed.is_active());
    assert_eq!(mail_with_subject(&h, "laura@example.com", NOTICE).len(), notices);
    assert_eq!(audits(&h, "mfa.factor.removed")[0].metadata["mfa_enabled"], json!(true));
    assert_eq!(h.store.recovery_codes_of(laura.id).len(), 10);
}

#[tokio::test]
async fn an_administrator_reset_counts_active_factors_and_skips_accounts_without_any() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let me = password_session(&svc, "laura@example.com").await;
    enrol(&svc, &h, &me, "Phone").await;
    let anas = password_session(&svc, "ana@example.com").await;
    let (_, actor) = admin(&svc, &h).await;
    // A pending enrolment of Laura's is removed but not counted.
    let pending = portcullis_testing::fixtures::factor(&laura, h.clock.now());
    UnitOfWork::commit(&h.store, vec![Change::InsertFactor(pending)]).await.expect("pending");
    assert_eq!(svc.admin_reset_mfa(&actor, laura.id, &ctx()).await.expect("reset"), 1);
    assert!(h.store.factors().is_empty());
    // Ana has nothing to reset: nothing happens.
    assert_eq!(svc.admin_reset_mfa(&actor, ana.id, &ctx()).await.expect("reset"), 0);
    assert!(stored_session(&h, anas.session_id).revoked_at.is_none());
    assert!(mail_with_subject(&h, "ana@example.com", NOTICE).is_empty());
    assert_eq!(audits(&h, "admin.user.mfa_reset").len(), 1);
}
