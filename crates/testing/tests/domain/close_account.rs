//! POST /users/me/deactivate and DELETE /users/me: closing one's own account, confirmed by
//! the password.

use std::time::Duration;

use portcullis_domain::model::{AccountBlock, AccountStatus, Password, User};
use portcullis_domain::{AuthError, LoginError, Principal, ReauthError};
use portcullis_testing::TestHandles;
use portcullis_testing::fixtures::PASSWORD;

use crate::support::{
    Service, audits, ctx, email, login_ok, login_request, principal, seed_verified, service, stored_user,
};

/// Which way of closing an account a test exercises.
#[derive(Clone, Copy, Debug)]
enum Closing {
    Deactivate,
    Delete,
}

impl Closing {
    async fn run(self, svc: &Service, me: &Principal, password: &str) -> Result<(), ReauthError> {
        match self {
            Self::Deactivate => svc.deactivate_account(me, Password::new(password), &ctx()).await,
            Self::Delete => svc.delete_account(me, Password::new(password), &ctx()).await,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Self::Deactivate => "user.account.deactivated",
            Self::Delete => "user.account.deleted",
        }
    }

    fn block(self) -> AccountBlock {
        match self {
            Self::Deactivate => AccountBlock::Deactivated,
            Self::Delete => AccountBlock::Deleted,
        }
    }
}

/// Laura with two sessions, signed in as the second.
async fn two_sessions(svc: &Service, h: &TestHandles) -> (User, [String; 2], Principal) {
    let laura = seed_verified(h, "laura@example.com").await;
    let first = login_ok(svc, "laura@example.com").await;
    let second = login_ok(svc, "laura@example.com").await;
    let me = principal(svc, &second).await;
    (laura, [first.access_token, second.access_token], me)
}

#[tokio::test]
async fn a_wrong_password_closes_nothing() {
    for closing in [Closing::Deactivate, Closing::Delete] {
        let (svc, h) = service();
        let (laura, tokens, me) = two_sessions(&svc, &h).await;

        let err = closing.run(&svc, &me, "not my password").await.unwrap_err();

        assert!(matches!(err, ReauthError::WrongPassword), "{closing:?}: {err:?}");
        assert_eq!(stored_user(&h, laura.id), laura, "{closing:?}");
        for token in &tokens {
            svc.authenticate(token).await.expect("no session was revoked");
        }
        assert!(audits(&h, closing.action()).is_empty());
        assert_eq!(audits(&h, "auth.login.failure").len(), 1, "{closing:?}: audited as a failed confirmation");
    }
}

#[tokio::test]
async fn deactivation_sets_the_status_and_revokes_every_session() {
    let (svc, h) = service();
    let (laura, tokens, me) = two_sessions(&svc, &h).await;
    let now = h.clock.advance(Duration::from_secs(7));

    Closing::Deactivate.run(&svc, &me, PASSWORD).await.unwrap();

    let user = stored_user(&h, laura.id);
    assert_eq!((user.status, user.deleted_at, user.updated_at), (AccountStatus::Deactivated, None, now));
    for token in &tokens {
        assert!(matches!(svc.authenticate(token).await, Err(AuthError::Unauthorized)), "the current one too");
    }
    assert!(h.store.sessions().iter().all(|s| s.revoked_at == Some(now)));
    let entries = audits(&h, "user.account.deactivated");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
}

#[tokio::test]
async fn deletion_sets_deleted_at_and_revokes_every_session() {
    let (svc, h) = service();
    let (laura, tokens, me) = two_sessions(&svc, &h).await;
    let now = h.clock.advance(Duration::from_secs(7));

    Closing::Delete.run(&svc, &me, PASSWORD).await.unwrap();

    let user = stored_user(&h, laura.id);
    assert_eq!((user.deleted_at, user.status, user.updated_at), (Some(now), AccountStatus::Active, now));
    assert_eq!(user.email, email("laura@example.com"), "the row and its address are kept");
    for token in &tokens {
        assert!(matches!(svc.authenticate(token).await, Err(AuthError::Unauthorized)));
    }
    let entries = audits(&h, "user.account.deleted");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(laura.id), now));
}

#[tokio::test]
async fn a_closed_account_cannot_sign_in() {
    for closing in [Closing::Deactivate, Closing::Delete] {
        let (svc, h) = service();
        let (_, _, me) = two_sessions(&svc, &h).await;
        closing.run(&svc, &me, PASSWORD).await.unwrap();
        let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
        assert!(matches!(&err, LoginError::Blocked(b) if *b == closing.block()), "{closing:?}: {err:?}");
    }
}

#[tokio::test]
async fn a_deleted_account_gets_no_reset_code() {
    let (svc, h) = service();
    let (_, _, me) = two_sessions(&svc, &h).await;
    Closing::Delete.run(&svc, &me, PASSWORD).await.unwrap();
    let mails = h.store.queued_mail().len();
    svc.forgot_password(&email("laura@example.com"), &ctx()).await.unwrap();
    assert_eq!(h.store.queued_mail().len(), mails);
    assert!(h.store.codes().is_empty());
}

#[tokio::test]
async fn closing_shares_the_failed_login_limit() {
    for closing in [Closing::Deactivate, Closing::Delete] {
        let (svc, h) = service();
        let (laura, _, me) = two_sessions(&svc, &h).await;
        for _ in 0..5 {
            assert!(matches!(closing.run(&svc, &me, "not my password").await, Err(ReauthError::WrongPassword)));
        }
        let err = closing.run(&svc, &me, PASSWORD).await.unwrap_err();
        assert!(matches!(err, ReauthError::TooManyAttempts { .. }), "{closing:?}: {err:?}");
        assert_eq!(stored_user(&h, laura.id), laura);
    }
}
