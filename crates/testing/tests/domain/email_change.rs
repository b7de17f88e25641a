//! Moving an account to another address on fakes: the password, a code to the new address,
//! the switch, and the old address's link that undoes it and signs every session out.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{Aal, CodePurpose, Email, OutgoingMail, Password, TotpStep};
use portcullis_domain::ports::{Change, Clock, CodeRepository, UnitOfWork, UserRepository};
use portcullis_domain::{
    EMAIL_REVERT_TTL, EmailChangeError, LoginOutcome, Principal, RedeemCodeError, RevertEmailChangeError,
};
use portcullis_testing::TestHandles;
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{PASSWORD, factor};

use crate::support::{
    Service, audits, code, ctx, email, login_ok, mail_with_subject, principal, registration, seed_verified, service,
    stored_user,
};

const CODE_SUBJECT: &str = "Confirm your new Portcullis email address";
const NOTICE_SUBJECT: &str = "A change of your Portcullis email address was requested";
const IN_USE_SUBJECT: &str = "Someone tried to use your address for another Portcullis account";
const NEW_SUBJECT: &str = "This is now your Portcullis email address";
const OLD_SUBJECT: &str = "Your Portcullis email address was changed";
const RESTORED_SUBJECT: &str = "Your Portcullis email address was restored";

/// A verified account at `address`, signed in.
async fn signed_in(svc: &Service, h: &TestHandles, address: &str) -> (LoginOutcome, Principal) {
    seed_verified(h, address).await;
    let out = login_ok(svc, address).await;
    let me = principal(svc, &out).await;
    (out, me)
}

async fn request(svc: &Service, me: &Principal, to: &str) -> Result<(), EmailChangeError> {
    svc.request_email_change(me, Password::new(PASSWORD), &email(to), &ctx()).await
}

async fn confirm(svc: &Service, me: &Principal, digits: &str) -> Result<Email, RedeemCodeError> {
    svc.confirm_email_change(me, &code(digits), &ctx()).await
}

/// The code the last request drew (mailed or not).
fn drawn_code(h: &TestHandles) -> String {
    h.random.last_code().expect("a code was drawn")
}

/// The token of the revert link in a "your address was changed" mail.
fn revert_token(mail: &OutgoingMail) -> String {
    const MARKER: &str = "email-change/revert?token=";
    let start = mail.body.find(MARKER).expect("a mail with a revert link") + MARKER.len();
    mail.body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// Requests and confirms a move of `me` to `to`; returns the revert link's token.
async fn moved(svc: &Service, h: &TestHandles, me: &Principal, to: &str) -> String {
    request(svc, me, to).await.expect("requested");
    confirm(svc, me, &drawn_code(h)).await.expect("confirmed");
    let mail = mail_with_subject(h, me.user.email.as_str(), OLD_SUBJECT).pop().expect("the old address's mail");
    revert_token(&mail)
}

#[tokio::test]
async fn a_request_mails_a_code_to_the_new_address_and_a_notice_to_the_old_one() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    request(&svc, &me, "laura@example.org").await.expect("requested");

    let digits = drawn_code(&h);
    let codes = mail_with_subject(&h, "laura@example.org", CODE_SUBJECT);
    assert_eq!(codes.len(), 1);
    assert!(codes[0].body.contains(&digits), "{}", codes[0].body);
    let notices = mail_with_subject(&h, "laura@example.com", NOTICE_SUBJECT);
    assert_eq!(notices.len(), 1);
    assert!(notices[0].body.contains("laura@example.org") && !notices[0].body.contains(&digits));
    assert_eq!(audits(&h, "user.email.change_requested").len(), 1);
    let entry = &audits(&h, "user.email.change_requested")[0];
    assert!(
        !serde_json::to_string(&entry.metadata).unwrap_or_default().contains("example.org"),
        "no address in the log"
    );
    // Nothing moves before the code.
    assert_eq!(stored_user(&h, me.user.id).email.as_str(), "laura@example.com");
    let all = CodeRepository::email_changes(&h.store, me.user.id).await.expect("read");
    assert_eq!(all.len(), 1);
    let pending = &all[0];
    assert_eq!(pending.confirmed_at, None);
    assert_eq!((pending.old_email.as_str(), pending.new_email.as_str()), ("laura@example.com", "laura@example.org"));
    let stored = h.store.codes().into_iter().find(|c| c.purpose == CodePurpose::ChangeEmail).expect("a code");
    assert_eq!(stored.user_id, me.user.id);
}

#[tokio::test]
async fn a_wrong_password_is_a_failed_login_and_sends_nothing() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    let mails = h.store.queued_mail().len();
    let err = svc.request_email_change(&me, Password::new("not it"), &email("x@example.org"), &ctx()).await;
    assert!(matches!(err, Err(EmailChangeError::WrongPassword)), "{err:?}");
    assert_eq!(h.store.rate_events("login:laura@example.com"), 1, "counted towards the lockout");
    assert_eq!(h.store.queued_mail().len(), mails);
    assert!(h.store.email_changes().is_empty());
}

#[tokio::test]
async fn the_current_address_and_a_second_request_within_the_minute_are_refused() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    assert!(matches!(request(&svc, &me, "laura@example.com").await, Err(EmailChangeError::SameAddress)));
    request(&svc, &me, "one@example.org").await.expect("first");
    assert!(matches!(request(&svc, &me, "two@example.org").await, Err(EmailChangeError::RateLimited { .. })));
    h.clock.advance(Duration::from_secs(60));
    request(&svc, &me, "two@example.org").await.expect("a minute later");
    // The newer request replaced the older: its code confirms the newer address.
    assert_eq!(confirm(&svc, &me, &drawn_code(&h)).await.expect("confirmed").as_str(), "two@example.org");
}

#[tokio::test]
async fn a_taken_address_gets_a_warning_instead_of_the_code_and_cannot_be_taken() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    let other = seed_verified(&h, "taken@example.org").await;
    request(&svc, &me, "taken@example.org").await.expect("the same answer as for a free address");

    assert!(mail_with_subject(&h, "taken@example.org", CODE_SUBJECT).is_empty(), "no code leaves");
    assert_eq!(mail_with_subject(&h, "taken@example.org", IN_USE_SUBJECT).len(), 1);
    assert_eq!(mail_with_subject(&h, "laura@example.com", NOTICE_SUBJECT).len(), 1, "the caller sees the same");
    // Even the code drawn (never sent) cannot move the account there.
    let err = confirm(&svc, &me, &drawn_code(&h)).await;
    assert!(matches!(err, Err(RedeemCodeError::InvalidCode)), "{err:?}");
    assert_eq!(stored_user(&h, me.user.id).email.as_str(), "laura@example.com");
    assert_eq!(stored_user(&h, other.id).email.as_str(), "taken@example.org");
}

#[tokio::test]
async fn the_code_switches_the_address_and_the_old_one_gets_a_revert_link() {
    let (svc, h) = service();
    let (out, me) = signed_in(&svc, &h, "laura@example.com").await;
    request(&svc, &me, "laura@example.org").await.expect("requested");
    h.clock.advance(Duration::from_secs(30));
    let now = h.clock.now();
    let new = confirm(&svc, &me, &drawn_code(&h)).await.expect("confirmed");
    assert_eq!(new.as_str(), "laura@example.org");

    let user = stored_user(&h, me.user.id);
    assert_eq!((user.email.as_str(), user.email_verified_at), ("laura@example.org", Some(now)));
    assert_eq!(h.store.user_by_email(&email("laura@example.org")).await.expect("read").map(|u| u.id), Some(user.id));
    assert!(h.store.user_by_email(&email("laura@example.com")).await.expect("read").is_none());
    assert_eq!(mail_with_subject(&h, "laura@example.org", NEW_SUBJECT).len(), 1);
    let old = mail_with_subject(&h, "laura@example.com", OLD_SUBJECT);
    assert_eq!(old.len(), 1);
    assert!(old[0].body.contains("laura@example.org") && old[0].body.contains("7 days"), "{}", old[0].body);
    assert!(revert_token(&old[0]).len() >= 32);
    assert_eq!(audits(&h, "user.email.changed").len(), 1);
    // Sessions are kept, and the code works once.
    assert!(svc.authenticate(&out.access_token).await.is_ok());
    let again = confirm(&svc, &me, &drawn_code(&h)).await;
    assert!(matches!(again, Err(RedeemCodeError::InvalidCode)), "{again:?}");
    // Sign-in now uses the new address.
    assert!(login_ok(&svc, "laura@example.org").await.user.id == user.id);
}

#[tokio::test]
async fn wrong_and_expired_codes_follow_the_code_rules() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    request(&svc, &me, "laura@example.org").await.expect("requested");
    let right = drawn_code(&h);
    let wrong = if right == "000000" { "000001" } else { "000000" };
    assert!(matches!(confirm(&svc, &me, wrong).await, Err(RedeemCodeError::InvalidCode)));
    h.clock.advance(svc.policy().code_ttl);
    assert!(matches!(confirm(&svc, &me, &right).await, Err(RedeemCodeError::CodeExpired)));
    assert_eq!(stored_user(&h, me.user.id).email.as_str(), "laura@example.com");
}

#[tokio::test]
async fn an_address_taken_after_the_request_is_an_invalid_code() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    request(&svc, &me, "wanted@example.org").await.expect("requested");
    let other = seed_verified(&h, "wanted@example.org").await;
    let err = confirm(&svc, &me, &drawn_code(&h)).await;
    assert!(matches!(err, Err(RedeemCodeError::InvalidCode)), "{err:?}");
    assert_eq!(stored_user(&h, me.user.id).email.as_str(), "laura@example.com");
    assert_eq!(stored_user(&h, other.id).email.as_str(), "wanted@example.org");
    assert!(audits(&h, "user.email.changed").is_empty());
}

#[tokio::test]
async fn the_link_moves_the_account_back_once_and_signs_every_session_out() {
    let (svc, h) = service();
    let (out, me) = signed_in(&svc, &h, "laura@example.com").await;
    let token = moved(&svc, &h, &me, "eve@example.org").await;
    let second = login_ok(&svc, "eve@example.org").await;

    svc.revert_email_change(&token, &ctx()).await.expect("reverted");
    let user = stored_user(&h, me.user.id);
    assert_eq!(user.email.as_str(), "laura@example.com");
    for session in [out.session_id, second.session_id] {
        assert!(h.store.sessions().iter().any(|s| s.id == session && s.revoked_at.is_some()), "{session}");
    }
    assert!(svc.authenticate(&second.access_token).await.is_err());
    assert_eq!(mail_with_subject(&h, "laura@example.com", RESTORED_SUBJECT).len(), 1);
    assert_eq!(audits(&h, "user.email.change_reverted").len(), 1);
    let again = svc.revert_email_change(&token, &ctx()).await;
    assert!(matches!(again, Err(RevertEmailChangeError::InvalidToken)), "{again:?}");
    assert!(matches!(
        svc.revert_email_change("not-a-token-of-ours-at-all-0123456789", &ctx()).await,
        Err(RevertEmailChangeError::InvalidToken)
    ));
}

#[tokio::test]
async fn the_link_dies_after_seven_days_and_frees_the_old_address() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    let token = moved(&svc, &h, &me, "laura@example.org").await;

    // While the link lives, the old address is kept: registering it creates nothing.
    svc.register(registration("laura@example.com"), &ctx()).await.expect("the usual answer");
    assert_eq!(h.store.users().len(), 1);
    let kept = h.store.email_reserved_for_revert(&email("laura@example.com"), h.clock.now()).await.expect("read");
    assert!(kept, "kept for the link");

    h.clock.advance(EMAIL_REVERT_TTL);
    let late = svc.revert_email_change(&token, &ctx()).await;
    assert!(matches!(late, Err(RevertEmailChangeError::InvalidToken)), "{late:?}");
    svc.register(registration("laura@example.com"), &ctx()).await.expect("registered");
    assert_eq!(h.store.users().len(), 2, "the address is free again");
}

#[tokio::test]
async fn a_kept_address_cannot_be_moved_to_by_another_account() {
    let (svc, h) = service();
    let (_, laura) = signed_in(&svc, &h, "laura@example.com").await;
    moved(&svc, &h, &laura, "laura@example.org").await;
    let (_, eve) = signed_in(&svc, &h, "eve@example.com").await;
    request(&svc, &eve, "laura@example.com").await.expect("the usual answer");
    assert!(mail_with_subject(&h, "laura@example.com", CODE_SUBJECT).is_empty(), "no code to the kept address");
    let err = confirm(&svc, &eve, &drawn_code(&h)).await;
    assert!(matches!(err, Err(RedeemCodeError::InvalidCode)), "{err:?}");
    assert_eq!(stored_user(&h, eve.user.id).email.as_str(), "eve@example.com");
}

#[tokio::test]
async fn the_owners_link_undoes_a_chain_of_changes_and_ends_the_later_links() {
    let (svc, h) = service();
    let (_, laura) = signed_in(&svc, &h, "laura@example.com").await;
    let owners = moved(&svc, &h, &laura, "eve@example.org").await;
    // The intruder moves it once more, from a session on the new address.
    h.clock.advance(Duration::from_secs(60));
    let out = login_ok(&svc, "eve@example.org").await;
    let intruder = principal(&svc, &out).await;
    let intruders = moved(&svc, &h, &intruder, "eve2@example.org").await;

    svc.revert_email_change(&owners, &ctx()).await.expect("the owner's link works");
    assert_eq!(stored_user(&h, laura.user.id).email.as_str(), "laura@example.com");
    let err = svc.revert_email_change(&intruders, &ctx()).await;
    assert!(matches!(err, Err(RevertEmailChangeError::InvalidToken)), "the later link is dead: {err:?}");
    assert_eq!(stored_user(&h, laura.user.id).email.as_str(), "laura@example.com");
}

#[tokio::test]
async fn an_account_with_a_second_factor_needs_a_session_that_used_it() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    let f = factor(&me.user, T0);
    h.store
        .commit(vec![
            Change::InsertFactor(f.clone()),
            Change::ConfirmFactor { factor_id: f.id, step: TotpStep::at(T0), at: T0 },
        ])
        .await
        .expect("an active factor");
    assert_eq!(me.aal, Aal::One);
    let err = request(&svc, &me, "laura@example.org").await;
    assert!(matches!(err, Err(EmailChangeError::SecondFactorRequired)), "{err:?}");
    let strong = Principal { aal: Aal::Two, ..me };
    request(&svc, &strong, "laura@example.org").await.expect("from a session that used the factor");
}

#[tokio::test]
async fn of_two_accounts_confirming_one_address_at_once_exactly_one_gets_it() {
    let (svc, h) = service();
    let (_, a) = signed_in(&svc, &h, "a@example.com").await;
    let (_, b) = signed_in(&svc, &h, "b@example.com").await;
    request(&svc, &a, "both@example.org").await.expect("a asks");
    let code_a = drawn_code(&h);
    request(&svc, &b, "both@example.org").await.expect("b asks: a pending change reserves nothing");
    let code_b = drawn_code(&h);
    let results = join_all([confirm(&svc, &a, &code_a), confirm(&svc, &b, &code_b)]).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(results.iter().any(|r| matches!(r, Err(RedeemCodeError::InvalidCode))), "{results:?}");
    let holders: Vec<_> = h.store.users().into_iter().filter(|u| u.email.as_str() == "both@example.org").collect();
    assert_eq!(holders.len(), 1);
    assert_eq!(audits(&h, "user.email.changed").len(), 1);
}

#[tokio::test]
async fn a_code_sent_twice_at_once_switches_once() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    request(&svc, &me, "laura@example.org").await.expect("requested");
    let digits = drawn_code(&h);
    let results = join_all((0..4).map(|_| confirm(&svc, &me, &digits))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert_eq!(audits(&h, "user.email.changed").len(), 1);
    assert_eq!(mail_with_subject(&h, "laura@example.com", OLD_SUBJECT).len(), 1);
}

#[tokio::test]
async fn codes_mailed_to_an_address_the_account_left_stop_working() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    // A reset code mailed to the old address before the switch.
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.expect("asked");
    let old_reset = drawn_code(&h);
    let token = moved(&svc, &h, &me, "eve@example.org").await;
    let reset = |address: &'static str, digits: String| {
        let svc = &svc;
        async move {
            let new = crate::support::new_password("a brand new passphrase");
            svc.reset_password(&email(address), &code(&digits), &new, &ctx()).await
        }
    };
    assert!(matches!(reset("eve@example.org", old_reset).await, Err(RedeemCodeError::InvalidCode)));

    // Whoever holds the new address asks for a sign-in code and a reset code there...
    h.clock.advance(Duration::from_secs(61));
    svc.request_sign_in_code(&email("eve@example.org"), &ctx()).await.expect("asked");
    let sign_in = drawn_code(&h);
    svc.forgot_password(&email("eve@example.org"), &ctx()).await.expect("asked");
    let eves_reset = drawn_code(&h);
    // ...and after the owner's link neither works on the restored address.
    svc.revert_email_change(&token, &ctx()).await.expect("reverted");
    let req = portcullis_domain::CodeLoginRequest {
        email: email("laura@example.com"),
        code: code(&sign_in),
        remember_me: false,
    };
    assert!(matches!(svc.login_with_code(req, &ctx()).await, Err(portcullis_domain::LoginError::InvalidCredentials)));
    assert!(matches!(reset("laura@example.com", eves_reset).await, Err(RedeemCodeError::InvalidCode)));
    assert!(h.store.codes().iter().all(|c| c.consumed_at.is_some()), "no code is left live");
}

#[tokio::test]
async fn the_link_removes_second_factors_added_after_the_change() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    let owners = factor(&me.user, T0);
    h.store
        .commit(vec![
            Change::InsertFactor(owners.clone()),
            Change::ConfirmFactor { factor_id: owners.id, step: TotpStep::at(T0), at: T0 },
        ])
        .await
        .expect("the owner's factor");
    let strong = Principal { aal: Aal::Two, ..me };
    h.clock.advance(Duration::from_secs(60));
    let token = moved(&svc, &h, &strong, "eve@example.org").await;
    h.clock.advance(Duration::from_secs(60));
    let intruders = factor(&strong.user, h.clock.now());
    let at = h.clock.now();
    h.store
        .commit(vec![
            Change::InsertFactor(intruders.clone()),
            Change::ConfirmFactor { factor_id: intruders.id, step: TotpStep::at(at), at },
        ])
        .await
        .expect("the intruder's factor");

    svc.revert_email_change(&token, &ctx()).await.expect("reverted");
    let left: Vec<_> = h.store.factors().into_iter().map(|f| f.id).collect();
    assert_eq!(left, vec![owners.id], "only the factor from before the change stays");
    let entry = audits(&h, "user.email.change_reverted").pop().expect("audited");
    assert_eq!(entry.metadata["factors_removed"], 1);
    let mail = mail_with_subject(&h, "laura@example.com", RESTORED_SUBJECT).pop().expect("mailed");
    assert!(mail.body.contains("1 second factor added since the change was removed"), "{}", mail.body);
}

#[tokio::test]
async fn one_new_address_gets_at_most_one_mail_a_minute_from_all_requests() {
    let (svc, h) = service();
    let (_, a) = signed_in(&svc, &h, "a@example.com").await;
    let (_, b) = signed_in(&svc, &h, "b@example.com").await;
    request(&svc, &a, "target@example.org").await.expect("a asks");
    request(&svc, &b, "target@example.org").await.expect("b asks: the same answer");
    assert_eq!(h.store.mail_to("target@example.org").len(), 1, "the second request sent nothing there");
    assert_eq!(mail_with_subject(&h, "b@example.com", NOTICE_SUBJECT).len(), 1, "its own notice still goes");
    // The change is stored all the same: b's code (never sent) would confirm it.
    let digits = drawn_code(&h);
    assert_eq!(confirm(&svc, &b, &digits).await.expect("confirmed").as_str(), "target@example.org");
}

#[tokio::test]
async fn an_administrator_cannot_create_an_account_on_a_kept_address() {
    let (svc, h) = service();
    let (_, me) = signed_in(&svc, &h, "laura@example.com").await;
    moved(&svc, &h, &me, "laura@example.org").await;
    let account = portcullis_domain::NewAccount {
        name: portcullis_domain::model::UserName::parse("Eve").expect("a name"),
        email: email("laura@example.com"),
        password: crate::support::new_password("a brand new passphrase"),
        roles: portcullis_domain::model::Roles::user(),
    };
    let err = svc.admin_create_user(&portcullis_domain::Actor::Operator, account, &ctx()).await;
    assert!(matches!(err, Err(portcullis_domain::AdminError::EmailTaken)), "{err:?}");
    assert_eq!(h.store.users().len(), 1);
}
